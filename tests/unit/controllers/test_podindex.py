"""The pods-by-controller index (framework.podindex): what it files each pod under, and that claiming over its
candidates gives what claiming over the whole namespace gives."""

from __future__ import annotations

import asyncio
import random

from pyk8s.api.labels import selector_from_set
from pyk8s.client.fake import FakeClient
from pyk8s.client.informer import CacheLister, Indexer, SharedInformer
from pyk8s.client.interface import Obj
from pyk8s.client.kinds import PODS, REPLICA_SETS
from pyk8s.controllers.framework.ownership import ControllerRefManager
from pyk8s.controllers.framework.podindex import (
    POD_CONTROLLER_UID_INDEX,
    add_pod_controller_uid_index,
    claim_candidates,
    controlled_key,
    controlled_pods,
    orphan_key,
    orphan_pods,
    pod_controller_uid_index,
)
from tests.unit.controllers.harness import until


def pod(name: str, *, ns: str = "ns", controller: str | None = None, others: tuple[str, ...] = (),
        labels: dict[str, str] | None = None) -> Obj:
    refs = [{"apiVersion": "v1", "kind": "ConfigMap", "name": o, "uid": o} for o in others]
    if controller is not None:
        refs.append({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": controller,
                     "controller": True})
    md: Obj = {"name": name, "namespace": ns, "uid": f"uid-{name}", "labels": labels or {"app": "web"}}
    if refs:
        md["ownerReferences"] = refs
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md}


class ListerWithoutIndex:
    """A Lister that has only the namespace index (the fallback path)."""

    def __init__(self, pods: list[Obj]) -> None:
        self.pods = pods

    def get(self, key: str) -> Obj | None:
        return None

    def list(self, namespace: str | None = None) -> list[Obj]:
        return [p for p in self.pods if not namespace or p["metadata"]["namespace"] == namespace]

    def by_index(self, index_name: str, value: str) -> list[Obj]:
        raise KeyError(index_name)

    def keys(self) -> list[str]:
        return []


def test_a_pod_is_filed_under_its_controller_or_as_an_orphan_of_its_namespace() -> None:
    assert pod_controller_uid_index(pod("a", controller="u1")) == [controlled_key("ns", "u1")] == ["ns/u1"]
    # Owner references that are not the controller do not count.
    assert pod_controller_uid_index(pod("b", others=("cm1",))) == [orphan_key("ns")]
    assert pod_controller_uid_index(pod("c", ns="other")) == [orphan_key("other")]
    assert orphan_key("ns") != controlled_key("ns", "")
    assert pod_controller_uid_index({"metadata": {"name": "bare"}}) == [orphan_key("")]


def test_lookups_follow_the_index_as_pods_are_adopted_released_and_deleted() -> None:
    indexer = Indexer()
    indexer.add_indexers({POD_CONTROLLER_UID_INDEX: pod_controller_uid_index})
    owner = {"metadata": {"name": "rs", "namespace": "ns", "uid": "u1"}}
    indexer.put("ns/a", pod("a", controller="u1"))
    indexer.put("ns/b", pod("b"))
    indexer.put("ns/c", pod("c", controller="u2"))
    indexer.put("other/d", pod("d", ns="other"))
    indexer.put("other/e", pod("e", ns="other", controller="u1"))  # the same uid, another namespace

    def names(pods: list[Obj]) -> list[str]:
        return sorted(p["metadata"]["name"] for p in pods)

    lister = CacheLister(indexer)
    assert names(controlled_pods(lister, "ns", "u1")) == ["a"]
    assert names(orphan_pods(lister, "ns")) == ["b"]
    assert names(claim_candidates(lister, owner)) == ["a", "b"]
    indexer.put("ns/b", pod("b", controller="u1"))  # adopted
    indexer.put("ns/a", pod("a"))  # released
    assert names(controlled_pods(lister, "ns", "u1")) == ["b"]
    assert names(orphan_pods(lister, "ns")) == ["a"]
    indexer.delete("ns/b")
    assert names(claim_candidates(lister, owner)) == ["a"]


def test_without_the_index_the_namespace_is_scanned() -> None:
    pods = [pod("a", controller="u1"), pod("b"), pod("c", controller="u2"), pod("d", ns="other")]
    lister = ListerWithoutIndex(pods)
    owner = {"metadata": {"name": "rs", "namespace": "ns", "uid": "u1"}}
    assert [p["metadata"]["name"] for p in claim_candidates(lister, owner)] == ["a", "b"]
    assert [p["metadata"]["name"] for p in controlled_pods(lister, "ns", "u1")] == ["a"]
    assert [p["metadata"]["name"] for p in orphan_pods(lister, "ns")] == ["b"]
    assert add_pod_controller_uid_index(object()) is False  # no add_indexers: callers fall back


async def test_registered_on_a_shared_informer_it_tracks_watch_events() -> None:
    fake = FakeClient()
    informer = SharedInformer(fake, PODS)
    assert add_pod_controller_uid_index(informer) and add_pod_controller_uid_index(informer)  # twice is fine
    fake.seed(PODS, pod("early", controller="u1"))
    task = asyncio.get_running_loop().create_task(informer.run())
    try:
        await informer.wait_for_sync()
        fake.seed(PODS, pod("late"))
        await until(lambda: informer.lister.get("ns/late") is not None)
        assert [p["metadata"]["name"] for p in controlled_pods(informer.lister, "ns", "u1")] == ["early"]
        assert [p["metadata"]["name"] for p in orphan_pods(informer.lister, "ns")] == ["late"]
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


async def test_claiming_the_candidates_equals_claiming_the_whole_namespace() -> None:
    """Whatever mix of pods the namespace holds, a claim over claim_candidates keeps, adopts and releases
    exactly what a claim over every pod of the namespace does."""
    rng = random.Random(7)
    owner: Obj = {"metadata": {"name": "rs", "namespace": "ns", "uid": "u1"}}
    selector = selector_from_set({"app": "web"})
    for _ in range(40):
        pods = []
        for i in range(rng.randint(0, 12)):
            controller = rng.choice([None, "u1", "u2"])
            labels = rng.choice([{"app": "web"}, {"app": "db"}, {"app": "web", "x": "y"}])
            p = pod(f"p{i}", controller=controller, labels=labels, ns=rng.choice(["ns", "ns", "other"]))
            if rng.random() < 0.2:
                p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
            pods.append(p)
        indexer = Indexer()
        indexer.add_indexers({POD_CONTROLLER_UID_INDEX: pod_controller_uid_index})
        for p in pods:
            indexer.put(f"{p['metadata']['namespace']}/{p['metadata']['name']}", p)
            lister = CacheLister(indexer)
        results = []
        for candidates in (lister.list("ns"), claim_candidates(lister, owner)):
            fake = FakeClient()
            fake.seed(REPLICA_SETS, {**owner, "apiVersion": "apps/v1", "kind": "ReplicaSet"})
            for p in pods:
                fake.seed(PODS, p)
            fake.clear_actions()
            claimed = await ControllerRefManager(fake, owner, REPLICA_SETS, selector).claim(PODS, candidates)
            writes = sorted((a.verb, a.name) for a in fake.actions if a.verb == "patch")
            results.append((sorted(p["metadata"]["name"] for p in claimed), writes))
        assert results[0] == results[1]
