"""Endpoints subsets: addresses per Pod, repacking, truncation at 1000, comparison."""

from __future__ import annotations

from typing import Any

from pyk8s.controllers.endpoints.subsets import (
    capacity_annotation_set_correctly,
    desired_subsets,
    repack_subsets,
    subsets_equal,
    truncate,
)
from tests.unit.controllers.builders import pod, service

Obj = dict[str, Any]


def svc(**kw: Any) -> Obj:
    return service(**kw)


def addr(ip: str, name: str, node: str = "node-1") -> Obj:
    return {"ip": ip, "nodeName": node, "targetRef": {"kind": "Pod", "namespace": "default", "name": name,
                                                      "uid": f"uid-{name}"}}


def mkpod(name: str, ip: str, **kw: Any) -> Obj:
    p = pod(name, ip=ip, **kw)
    p["metadata"]["uid"] = f"uid-{name}"
    return p


def test_ready_and_unready_pods_share_one_subset() -> None:
    subsets = desired_subsets(svc(), [mkpod("a", "10.0.0.2"), mkpod("b", "10.0.0.1"),
                                      mkpod("c", "10.0.0.3", ready=False)])
    assert subsets == [{"addresses": [addr("10.0.0.1", "b"), addr("10.0.0.2", "a")],
                        "notReadyAddresses": [addr("10.0.0.3", "c")],
                        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]


def test_publish_not_ready_and_terminating() -> None:
    going = mkpod("g", "10.0.0.9")
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    unready = mkpod("u", "10.0.0.8", ready=False)
    assert desired_subsets(svc(), [going]) == []
    published = desired_subsets(svc(publishNotReadyAddresses=True), [going, unready])
    assert [a["ip"] for a in published[0]["addresses"]] == ["10.0.0.8", "10.0.0.9"]
    assert "notReadyAddresses" not in published[0]


def test_pods_with_different_named_ports_get_different_subsets() -> None:
    s = svc(ports=[{"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"},
                   {"name": "metrics", "port": 9100, "targetPort": 9100, "protocol": "TCP"}])
    a = mkpod("a", "10.0.0.1", ports=[{"name": "web", "containerPort": 8080}])
    b = mkpod("b", "10.0.0.2", ports=[{"name": "web", "containerPort": 8081}])
    c = mkpod("c", "10.0.0.3")  # no "web" port: only metrics
    subsets = desired_subsets(s, [a, b, c])
    shape = sorted((tuple(x["ip"] for x in ss["addresses"]), tuple(p["port"] for p in ss["ports"]))
                   for ss in subsets)
    assert shape == [(("10.0.0.1",), (8080,)), (("10.0.0.1", "10.0.0.2", "10.0.0.3"), (9100,)),
                     (("10.0.0.2",), (8081,))]


def test_headless_without_ports_and_hostnames() -> None:
    s = svc(ports=[], cluster_ip="None")
    p = mkpod("a", "10.0.0.1", hostname="a", subdomain="web")
    assert desired_subsets(s, [p]) == [{"addresses": [{**addr("10.0.0.1", "a"), "hostname": "a"}]}]
    assert desired_subsets(svc(ports=[]), [p]) == []  # a Service with an IP needs ports


def test_not_ready_wins_when_an_address_is_seen_both_ways() -> None:
    port = {"name": "p", "port": 1, "protocol": "TCP"}
    packed = repack_subsets([{"addresses": [addr("10.0.0.1", "a")], "ports": [port]},
                             {"notReadyAddresses": [addr("10.0.0.1", "a")], "ports": [port]}])
    assert packed == [{"notReadyAddresses": [addr("10.0.0.1", "a")], "ports": [port]}]


def test_truncation_keeps_ready_first_and_proportions() -> None:
    def many(prefix: str, n: int) -> list[Obj]:
        return [addr(f"10.{prefix}.{i // 250}.{i % 250}", f"{prefix}-{i}") for i in range(n)]

    subsets = [{"addresses": many("1", 600), "notReadyAddresses": many("2", 10), "ports": [{"port": 1}]},
               {"addresses": many("3", 600), "ports": [{"port": 2}]}]
    assert not capacity_annotation_set_correctly({}, subsets)
    assert truncate(subsets)
    assert [len(s.get("addresses") or []) for s in subsets] == [500, 500]
    assert all("notReadyAddresses" not in s for s in subsets)
    assert capacity_annotation_set_correctly({}, subsets)
    assert not capacity_annotation_set_correctly({"endpoints.kubernetes.io/over-capacity": "truncated"},
                                                 [{"addresses": many("4", 10)}])

    ready_fit = [{"addresses": many("5", 900), "notReadyAddresses": many("6", 200), "ports": [{"port": 1}]}]
    assert truncate(ready_fit)
    assert (len(ready_fit[0]["addresses"]), len(ready_fit[0]["notReadyAddresses"])) == (900, 100)
    assert not truncate([{"addresses": many("7", 1000)}])


def test_comparison_ignores_target_resource_versions_and_empty_lists() -> None:
    a = [{"addresses": [addr("10.0.0.1", "a")], "ports": [{"port": 1, "protocol": "TCP"}]}]
    b = [{"addresses": [{**addr("10.0.0.1", "a"), "targetRef": {**addr("10.0.0.1", "a")["targetRef"],
                                                               "resourceVersion": "42"}}],
          "notReadyAddresses": [], "ports": [{"port": 1, "protocol": "TCP"}]}]
    assert subsets_equal(a, b)
    assert subsets_equal(None, [])
    assert not subsets_equal(a, [{"notReadyAddresses": a[0]["addresses"], "ports": a[0]["ports"]}])
