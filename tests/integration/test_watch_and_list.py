"""Watch and list on the wire: ordering, synthetic events, selectors, bookmarks, pagination, compaction.

Upstream (kube-apiserver with its watch cache in front of etcd) is the spec for every assertion here.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.apiserver_process import APIServerProcess
from tests.integration.http import AdminHTTP

# Upstream's message for a continue token older than the compaction point (storage/etcd3, inconsistentContinue).
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


class WatchStream:
    """One open watch: newline-delimited JSON events read as they arrive."""

    def __init__(self, api: AdminHTTP, path: str, *, headers: dict[str, str] | None = None,
                 read_timeout: float = 20) -> None:
        self.conn = http.client.HTTPSConnection(api.host, api.port, context=api.cert_ctx, timeout=read_timeout)
        self.conn.request("GET", path, headers=headers or {})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status

    def next(self) -> dict[str, Any] | None:
        """The next event, or None when the server ended the stream."""
        while True:
            line = self.resp.readline()
            if not line:
                return None
            if line.strip():
                event: dict[str, Any] = json.loads(line)
                return event

    def take(self, n: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for _ in range(n):
            ev = self.next()
            assert ev is not None, f"stream ended after {len(out)} of {n} events: {out}"
            out.append(ev)
        return out

    def rest(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while (ev := self.next()) is not None:
            out.append(ev)
        return out

    def close(self) -> None:
        self.conn.close()


def cm(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if labels:
        md["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": dict(data)}


def ok(reply: Any, code: int = 200) -> dict[str, Any]:
    assert reply.status == code, (reply.status, reply.body[:800])
    body: dict[str, Any] = reply.json()
    return body


def list_rv(api: AdminHTTP, path: str) -> str:
    rv: str = ok(api.request("GET", path))["metadata"]["resourceVersion"]
    return rv


def merge_patch(api: AdminHTTP, path: str, patch: dict[str, Any]) -> dict[str, Any]:
    return ok(api.request("PATCH", path, json.dumps(patch).encode(),
                          headers={"Content-Type": "application/merge-patch+json"}))


# ---------------------------------------------------------------- ordering under concurrent writers
def test_watch_from_rv_delivers_every_later_change_in_order(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    api.request("POST", base, cm("before"))
    start = list_rv(api, base)
    stream = WatchStream(api, f"{base}?watch=1&resourceVersion={start}&timeoutSeconds=60")
    assert stream.status == 200
    writers, per_writer = 4, 8
    expected: list[tuple[str, str]] = []   # (type, name), order per name is what matters
    lock = threading.Lock()
    failures: list[BaseException] = []

    def write(w: int) -> None:
        try:
            for i in range(per_writer):
                name = f"w{w}-{i}"
                ok(api.request("POST", base, cm(name, v="0")), 201)
                merge_patch(api, f"{base}/{name}", {"data": {"v": "1"}})
                ok(api.request("DELETE", f"{base}/{name}"))
                with lock:
                    expected.extend([("ADDED", name), ("MODIFIED", name), ("DELETED", name)])
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    try:
        events = stream.take(writers * per_writer * 3)
    finally:
        for t in threads:
            t.join(30)
        stream.close()
    assert not failures, failures
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == len(rvs), "events out of order or repeated"
    assert rvs[0] > int(start)
    assert sorted((e["type"], e["object"]["metadata"]["name"]) for e in events) == sorted(expected)
    by_name: dict[str, list[str]] = {}
    for e in events:
        by_name.setdefault(e["object"]["metadata"]["name"], []).append(e["type"])
    assert all(types == ["ADDED", "MODIFIED", "DELETED"] for types in by_name.values()), by_name
    assert "before" not in by_name


def test_watch_resumes_from_any_event_rv(api: AdminHTTP, ns: str) -> None:
    """A client that reconnects with the RV of the last event it saw gets exactly the events after it."""
    base = f"/api/v1/namespaces/{ns}/configmaps"
    start = list_rv(api, base)
    for i in range(5):
        ok(api.request("POST", base, cm(f"r{i}")), 201)
    first = WatchStream(api, f"{base}?watch=1&resourceVersion={start}&timeoutSeconds=5")
    seen = first.take(5)
    first.close()
    middle = seen[1]["object"]["metadata"]["resourceVersion"]
    second = WatchStream(api, f"{base}?watch=1&resourceVersion={middle}&timeoutSeconds=5")
    again = second.take(3)
    second.close()
    assert [e["object"]["metadata"]["name"] for e in again] == ["r2", "r3", "r4"]


# ---------------------------------------------------------------- synthetic initial events
@pytest.mark.parametrize("rv", ["0", None], ids=["rv0", "unset"])
def test_watch_without_rv_starts_with_synthetic_added(api: AdminHTTP, ns: str, rv: str | None) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    for name in ("a", "b", "c"):
        ok(api.request("POST", base, cm(name, k=name)), 201)
    query = "watch=1&timeoutSeconds=10" + (f"&resourceVersion={rv}" if rv is not None else "")
    stream = WatchStream(api, f"{base}?{query}")
    try:
        assert stream.status == 200
        initial = stream.take(3)
        assert [e["type"] for e in initial] == ["ADDED"] * 3
        assert sorted(e["object"]["metadata"]["name"] for e in initial) == ["a", "b", "c"]
        assert all(e["object"]["data"] == {"k": e["object"]["metadata"]["name"]} for e in initial)
        # Then live changes follow, not repeated history.
        patched = merge_patch(api, f"{base}/b", {"data": {"k": "B"}})
        ev = stream.next()
        assert ev is not None and ev["type"] == "MODIFIED"
        assert ev["object"]["metadata"]["name"] == "b"
        assert ev["object"]["metadata"]["resourceVersion"] == patched["metadata"]["resourceVersion"]
    finally:
        stream.close()


# ---------------------------------------------------------------- selectors
def test_label_selector_watch_turns_leaving_into_deleted(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    ok(api.request("POST", base, cm("x", {"app": "other"}, v="0")), 201)
    start = list_rv(api, base)
    stream = WatchStream(api, f"{base}?watch=1&resourceVersion={start}&timeoutSeconds=10&labelSelector=app%3Dweb")
    try:
        entered = merge_patch(api, f"{base}/x", {"metadata": {"labels": {"app": "web"}}})
        changed = merge_patch(api, f"{base}/x", {"data": {"v": "1"}})
        left = merge_patch(api, f"{base}/x", {"metadata": {"labels": {"app": "gone"}}, "data": {"v": "2"}})
        merge_patch(api, f"{base}/x", {"data": {"v": "3"}})                 # outside: nothing
        back = merge_patch(api, f"{base}/x", {"metadata": {"labels": {"app": "web"}}})
        ok(api.request("DELETE", f"{base}/x"))
        events = stream.take(5)
    finally:
        stream.close()
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED", "ADDED", "DELETED"]
    rv = [e["object"]["metadata"]["resourceVersion"] for e in events]
    assert rv[:4] == [entered["metadata"]["resourceVersion"], changed["metadata"]["resourceVersion"],
                      left["metadata"]["resourceVersion"], back["metadata"]["resourceVersion"]]
    # Leaving the selector: upstream sends the previous object content (still matching) at the event's RV.
    gone = events[2]["object"]
    assert gone["metadata"]["labels"] == {"app": "web"}, gone["metadata"]
    assert gone["data"] == {"v": "1"}


def test_field_selector_watch_turns_leaving_into_deleted(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/pods"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fp"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    ok(api.request("POST", base, pod), 201)
    start = list_rv(api, base)
    pending = WatchStream(api, f"{base}?watch=1&resourceVersion={start}&timeoutSeconds=10"
                          f"&fieldSelector={quote('status.phase=Pending')}")
    running = WatchStream(api, f"{base}?watch=1&resourceVersion={start}&timeoutSeconds=10"
                          f"&fieldSelector={quote('status.phase=Running,metadata.name=fp')}")
    try:
        ok(api.request("PATCH", f"{base}/fp", {"metadata": {"labels": {"l": "1"}}},
                       headers={"Content-Type": "application/merge-patch+json"}))
        status = ok(api.request("GET", f"{base}/fp/status"))
        status["status"]["phase"] = "Running"
        ran = ok(api.request("PUT", f"{base}/fp/status", status))
        p_events = pending.take(2)
        r_events = running.take(1)
    finally:
        pending.close()
        running.close()
    assert [e["type"] for e in p_events] == ["MODIFIED", "DELETED"]
    assert p_events[1]["object"]["status"]["phase"] == "Pending"
    assert p_events[1]["object"]["metadata"]["resourceVersion"] == ran["metadata"]["resourceVersion"]
    assert r_events[0]["type"] == "ADDED"
    assert r_events[0]["object"]["status"]["phase"] == "Running"


def test_watch_of_one_object_by_name(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    for name in ("one", "two"):
        ok(api.request("POST", base, cm(name)), 201)
    start = list_rv(api, base)
    stream = WatchStream(api, f"{base}?watch=1&resourceVersion={start}&timeoutSeconds=10"
                         f"&fieldSelector={quote('metadata.name=two')}")
    try:
        merge_patch(api, f"{base}/one", {"data": {"a": "1"}})
        merge_patch(api, f"{base}/two", {"data": {"a": "2"}})
        ev = stream.next()
    finally:
        stream.close()
    assert ev is not None and ev["type"] == "MODIFIED" and ev["object"]["metadata"]["name"] == "two"


def test_legacy_watch_paths(api: AdminHTTP, ns: str) -> None:
    ok(api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm("lw")), 201)
    start = list_rv(api, f"/api/v1/namespaces/{ns}/configmaps")
    collection = WatchStream(api, f"/api/v1/watch/namespaces/{ns}/configmaps?resourceVersion={start}&timeoutSeconds=5")
    single = WatchStream(api, f"/api/v1/watch/namespaces/{ns}/configmaps/lw?resourceVersion={start}&timeoutSeconds=5")
    try:
        ok(api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm("other")), 201)
        merge_patch(api, f"/api/v1/namespaces/{ns}/configmaps/lw", {"data": {"z": "1"}})
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in collection.take(2)] == [
            ("ADDED", "other"), ("MODIFIED", "lw")]
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in single.take(1)] == [("MODIFIED", "lw")]
    finally:
        collection.close()
        single.close()


def test_watch_serves_the_requested_version(api: AdminHTTP, ns: str) -> None:
    """HPAs are stored once and watched as autoscaling/v1 or v2; each watcher sees its own version."""
    v1 = f"/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers"
    v2 = f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers"
    start = list_rv(api, v1)
    w1 = WatchStream(api, f"{v1}?watch=1&resourceVersion={start}&timeoutSeconds=5")
    w2 = WatchStream(api, f"{v2}?watch=1&resourceVersion={start}&timeoutSeconds=5")
    try:
        ok(api.request("POST", v1, {
            "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
                     "maxReplicas": 3, "targetCPUUtilizationPercentage": 60}}), 201)
        e1, e2 = w1.take(1)[0], w2.take(1)[0]
    finally:
        w1.close()
        w2.close()
    assert e1["object"]["apiVersion"] == "autoscaling/v1"
    assert e1["object"]["spec"]["targetCPUUtilizationPercentage"] == 60
    assert e2["object"]["apiVersion"] == "autoscaling/v2"
    assert e2["object"]["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60


# ---------------------------------------------------------------- bookmarks and timeouts
def test_bookmark_watch_ends_at_timeout_seconds(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    ok(api.request("POST", base, cm("bm")), 201)
    start = list_rv(api, base)
    began = time.monotonic()
    stream = WatchStream(api, f"{base}?watch=1&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion={start}")
    events: list[dict[str, Any]] = []
    try:
        assert stream.status == 200
        assert stream.resp.getheader("Content-Type", "").startswith("application/json")
        while (ev := stream.next()) is not None:
            events.append(ev)
            if ev["type"] == "BOOKMARK" and len(events) == 1:
                # The stream must survive the quiet period that preceded the bookmark.
                ok(api.request("POST", base, cm("after-bookmark")), 201)
    finally:
        stream.close()
    elapsed = time.monotonic() - began
    assert 2.5 <= elapsed < 6, elapsed
    # Upstream's watch cache sends a bookmark 2s before the deadline of a watch that allows them.
    assert events and events[0]["type"] == "BOOKMARK", events
    obj = events[0]["object"]
    assert obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1"
    assert int(obj["metadata"]["resourceVersion"]) >= int(start)
    assert set(obj) == {"kind", "apiVersion", "metadata"}
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events[1:]] == [("ADDED", "after-bookmark")]


def test_watch_without_bookmarks_ends_quietly_at_timeout(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    start = list_rv(api, base)
    began = time.monotonic()
    reply = api.request("GET", f"{base}?watch=true&timeoutSeconds=1&resourceVersion={start}")
    assert reply.status == 200
    assert reply.body.strip() == b""
    assert 0.8 <= time.monotonic() - began < 5


# ---------------------------------------------------------------- pagination
def test_list_pages_through_a_consistent_snapshot_while_writes_happen(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    originals: dict[str, str] = {}
    for i in range(12):
        created = ok(api.request("POST", base, cm(f"p{i:02d}", v="orig")), 201)
        originals[created["metadata"]["name"]] = created["metadata"]["resourceVersion"]
    first = ok(api.request("GET", f"{base}?limit=5"))
    snapshot_rv = first["metadata"]["resourceVersion"]
    token = first["metadata"].get("continue")
    assert token and len(first["items"]) == 5
    items = list(first["items"])
    page = 0
    while token:
        page += 1
        # Writes between pages: a new object, a change, and a delete of objects not yet returned.
        ok(api.request("POST", base, cm(f"new{page}")), 201)
        merge_patch(api, f"{base}/p11", {"data": {"v": f"changed{page}"}})
        if page == 1:
            ok(api.request("DELETE", f"{base}/p10"))
        nxt = ok(api.request("GET", f"{base}?limit=5&continue={quote(token)}"))
        assert nxt["metadata"]["resourceVersion"] == snapshot_rv
        items.extend(nxt["items"])
        token = nxt["metadata"].get("continue")
    assert page == 2
    assert [i["metadata"]["name"] for i in items] == sorted(originals)
    assert {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in items} == originals
    assert all(i["data"] == {"v": "orig"} for i in items)
    # A fresh list sees the writes.
    now = ok(api.request("GET", base))
    names = [i["metadata"]["name"] for i in now["items"]]
    assert "p10" not in names and "new1" in names and "new2" in names


def test_paged_list_reports_remaining_item_count(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    for i in range(7):
        ok(api.request("POST", base, cm(f"c{i}")), 201)
    first = ok(api.request("GET", f"{base}?limit=3"))
    assert first["metadata"].get("remainingItemCount") == 4, first["metadata"]
    last = ok(api.request("GET", f"{base}?limit=4&continue={quote(first['metadata']['continue'])}"))
    assert "continue" not in last["metadata"] and "remainingItemCount" not in last["metadata"]
    assert len(last["items"]) == 4


def test_list_with_limit_and_selector_fills_pages(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    for i in range(9):
        ok(api.request("POST", base, cm(f"s{i}", {"even": str(i % 2 == 0).lower()})), 201)
    names: list[str] = []
    token = ""
    while True:
        q = "limit=2&labelSelector=even%3Dtrue" + (f"&continue={quote(token)}" if token else "")
        page = ok(api.request("GET", f"{base}?{q}"))
        assert len(page["items"]) <= 2
        names.extend(i["metadata"]["name"] for i in page["items"])
        token = page["metadata"].get("continue", "")
        if not token:
            break
    assert names == ["s0", "s2", "s4", "s6", "s8"]


# ---------------------------------------------------------------- Table watch
def test_table_watch_sends_rows(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    start = list_rv(api, base)
    stream = WatchStream(api, f"{base}?watch=1&resourceVersion={start}&timeoutSeconds=10",
                         headers={"Accept": TABLE_ACCEPT})
    try:
        assert stream.status == 200
        ok(api.request("POST", base, cm("t1", a="1", b="2")), 201)
        merge_patch(api, f"{base}/t1", {"data": {"c": "3"}})
        ok(api.request("DELETE", f"{base}/t1"))
        events = stream.take(3)
    finally:
        stream.close()
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    tables = [e["object"] for e in events]
    assert all(t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1" for t in tables)
    # Headers only on the first event of the stream.
    assert [c["name"] for c in tables[0]["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert all(not t.get("columnDefinitions") for t in tables[1:])
    for t, data_count in zip(tables, (2, 3, 3), strict=True):
        assert len(t["rows"]) == 1
        row = t["rows"][0]
        assert row["cells"][0] == "t1" and row["cells"][1] == data_count
        assert row["object"]["kind"] == "PartialObjectMetadata"
        assert row["object"]["metadata"]["name"] == "t1"


# ---------------------------------------------------------------- compaction (own apiserver)
@pytest.fixture(scope="module")
def compacting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminHTTP]:
    server = APIServerProcess(Path(tmp_path_factory.mktemp("compacting")),
                              extra_args=["--etcd-compaction-interval=1s"])
    server.start()
    try:
        yield AdminHTTP(server.kubeconfig)
    finally:
        server.stop()


@pytest.fixture
def compacting_ns(compacting: AdminHTTP) -> str:
    name = f"cp-{uuid.uuid4().hex[:10]}"
    ok(compacting.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                         "metadata": {"name": name}}), 201)
    return name


def wait_compacted_past(api: AdminHTTP, base: str, rv: str, deadline_s: float = 20) -> None:
    """Poll an exact-RV list until the store says that revision is gone."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        reply = api.request("GET", f"{base}?resourceVersion={rv}&resourceVersionMatch=Exact")
        if reply.status == 410:
            status = reply.json()
            assert status["reason"] == "Expired" and status["code"] == 410
            return
        assert reply.status == 200, reply.body[:300]
        time.sleep(0.1)
    raise AssertionError(f"revision {rv} was not compacted within {deadline_s}s")


def test_watch_after_compaction_gets_410_error_event(compacting: AdminHTTP, compacting_ns: str) -> None:
    base = f"/api/v1/namespaces/{compacting_ns}/configmaps"
    old = ok(compacting.request("POST", base, cm("old", v="0")), 201)["metadata"]["resourceVersion"]
    for i in range(3):
        merge_patch(compacting, f"{base}/old", {"data": {"v": str(i + 1)}})
    wait_compacted_past(compacting, base, old)
    stream = WatchStream(compacting, f"{base}?watch=1&resourceVersion={old}&timeoutSeconds=10")
    try:
        assert stream.status == 200
        events = stream.rest()
    finally:
        stream.close()
    assert len(events) == 1, events
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["kind"] == "Status" and status["apiVersion"] == "v1"
    assert status["status"] == "Failure" and status["code"] == 410 and status["reason"] == "Expired"
    m = re.fullmatch(r"too old resource version: (\d+) \((\d+)\)", status["message"])
    assert m, status["message"]
    assert m.group(1) == old and int(m.group(2)) > int(old)


def test_expired_continue_token_is_410_with_inconsistent_continuation(compacting: AdminHTTP,
                                                                       compacting_ns: str) -> None:
    base = f"/api/v1/namespaces/{compacting_ns}/configmaps"
    for i in range(6):
        ok(compacting.request("POST", base, cm(f"e{i}")), 201)
    first = ok(compacting.request("GET", f"{base}?limit=2"))
    token = first["metadata"]["continue"]
    merge_patch(compacting, f"{base}/e5", {"data": {"late": "yes"}})
    ok(compacting.request("POST", base, cm("e6")), 201)
    wait_compacted_past(compacting, base, first["metadata"]["resourceVersion"])

    reply = compacting.request("GET", f"{base}?limit=2&continue={quote(token)}")
    assert reply.status == 410, reply.body[:500]
    status = reply.json()
    assert status["kind"] == "Status" and status["reason"] == "Expired" and status["code"] == 410
    assert status["message"] == INCONSISTENT_CONTINUE
    fresh = status["metadata"].get("continue")
    assert fresh and fresh != token

    # The inconsistent token continues after the last key of the first page, at the newest revision.
    names: list[str] = []
    data_of: dict[str, dict[str, str]] = {}
    while fresh:
        page = ok(compacting.request("GET", f"{base}?limit=2&continue={quote(fresh)}"))
        for item in page["items"]:
            names.append(item["metadata"]["name"])
            data_of[item["metadata"]["name"]] = item.get("data") or {}
        fresh = page["metadata"].get("continue")
    assert names == ["e2", "e3", "e4", "e5", "e6"]
    assert data_of["e5"] == {"late": "yes"}


def test_list_resource_version_semantics(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    ok(api.request("POST", base, cm("rv1")), 201)
    first = ok(api.request("GET", base))
    rv = int(first["metadata"]["resourceVersion"])
    ok(api.request("POST", base, cm("rv2")), 201)
    # NotOlderThan (the default) serves the newest state; Exact serves exactly that revision.
    newest = ok(api.request("GET", f"{base}?resourceVersion={rv}"))
    assert {i["metadata"]["name"] for i in newest["items"]} == {"rv1", "rv2"}
    exact = ok(api.request("GET", f"{base}?resourceVersion={rv}&resourceVersionMatch=Exact"))
    assert {i["metadata"]["name"] for i in exact["items"]} == {"rv1"}
    assert exact["metadata"]["resourceVersion"] == str(rv)
    # Combinations upstream refuses.
    r = api.request("GET", f"{base}?resourceVersionMatch=Exact")
    assert r.status == 422 and "resourceVersionMatch is forbidden unless resourceVersion is provided" in r.json()["message"]
    r = api.request("GET", f"{base}?resourceVersion=0&resourceVersionMatch=Exact")
    assert r.status == 422 and 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"' in r.json()["message"]
    r = api.request("GET", f"{base}?resourceVersion=1&resourceVersionMatch=Bogus")
    assert r.status == 422 and r.json()["reason"] == "Invalid"
    # A revision the store has not reached: a short wait, then 504 with Retry-After.
    r = api.request("GET", f"{base}?resourceVersion={rv + 1_000_000}")
    assert r.status == 504 and r.json()["reason"] == "Timeout", r.body
    assert "Too large resource version" in r.json()["message"] and r.headers.get("Retry-After")
