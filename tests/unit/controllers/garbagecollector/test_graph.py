"""The dependency graph: virtual owners, observation, deletes, transitions, unblocking, the absent cache."""

from __future__ import annotations

from typing import Any

from pyk8s.controllers.garbagecollector.graph import (
    AbsentOwnerCache,
    DependencyGraph,
    Identity,
    Node,
    references_diffs,
)
from pyk8s.controllers.garbagecollector.resources import is_namespaced, monitored_resources, resource_for

DEPLOY = Identity("apps/v1", "Deployment", "web", "d-uid", "ns")
RS = Identity("apps/v1", "ReplicaSet", "web-1", "rs-uid", "ns")


def ref(ident: Identity, block: bool = True) -> dict[str, Any]:
    return {"apiVersion": ident.api_version, "kind": ident.kind, "name": ident.name, "uid": ident.uid,
            "controller": True, "blockOwnerDeletion": block}


def obj(ident: Identity, owners: list[dict[str, Any]] | None = None, *, deleting: bool = False,
        finalizers: list[str] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": ident.name, "namespace": ident.namespace, "uid": ident.uid}
    if owners:
        md["ownerReferences"] = owners
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if finalizers:
        md["finalizers"] = finalizers
    return {"metadata": md}


class Recorder:
    def __init__(self) -> None:
        self.deletes: list[str] = []
        self.orphans: list[str] = []
        self.invalid: list[tuple[str, str]] = []

    def graph(self) -> DependencyGraph:
        return DependencyGraph(self.deletes.append, self.orphans.append, is_namespaced=is_namespaced,
                               report_invalid_namespace=lambda n, r: self.invalid.append((n.uid, r["uid"])))


def test_dependent_first_creates_a_virtual_owner_that_is_verified_then_observed() -> None:
    rec = Recorder()
    g = rec.graph()
    g.observe(RS, obj(RS, [ref(DEPLOY)]))
    owner = g.nodes["d-uid"]
    assert owner.virtual and not owner.observed
    assert owner.identity.namespace == "ns"  # deployments are namespaced
    assert rec.deletes == ["d-uid"]
    g.observe(DEPLOY, obj(DEPLOY))
    assert owner.observed and not owner.virtual
    assert {d.uid for d in owner.dependents} == {"rs-uid"}


def test_owner_delete_queues_dependents_and_records_the_absent_owner() -> None:
    rec = Recorder()
    g = rec.graph()
    g.observe(DEPLOY, obj(DEPLOY))
    g.observe(RS, obj(RS, [ref(DEPLOY)]))
    assert rec.deletes == []
    g.observe_delete(DEPLOY)
    assert rec.deletes == ["rs-uid"]
    assert "d-uid" not in g.nodes
    assert DEPLOY in g.absent_owners


def test_virtual_delete_of_an_unverified_owner() -> None:
    rec = Recorder()
    g = rec.graph()
    g.observe(RS, obj(RS, [ref(DEPLOY)]))
    rec.deletes.clear()
    g.virtual_delete(g.nodes["d-uid"].identity)
    assert "d-uid" not in g.nodes and rec.deletes == ["rs-uid"]


def test_orphan_and_foreground_transitions() -> None:
    rec = Recorder()
    g = rec.graph()
    g.observe(DEPLOY, obj(DEPLOY))
    g.observe(RS, obj(RS, [ref(DEPLOY)]))
    g.observe(DEPLOY, obj(DEPLOY, deleting=True, finalizers=["orphan"]), obj(DEPLOY))
    assert rec.orphans == ["d-uid"] and rec.deletes == []
    # the same state again is not a new transition
    g.observe(DEPLOY, obj(DEPLOY, deleting=True, finalizers=["orphan"]),
              obj(DEPLOY, deleting=True, finalizers=["orphan"]))
    assert rec.orphans == ["d-uid"]

    rec2 = Recorder()
    g2 = rec2.graph()
    g2.observe(DEPLOY, obj(DEPLOY))
    g2.observe(RS, obj(RS, [ref(DEPLOY)]))
    g2.observe(DEPLOY, obj(DEPLOY, deleting=True, finalizers=["foregroundDeletion"]), obj(DEPLOY))
    node = g2.nodes["d-uid"]
    assert node.deleting_dependents and node.foreground_pending
    assert rec2.deletes == ["rs-uid", "d-uid"]
    assert [d.uid for d in node.blocking_dependents()] == ["rs-uid"]


def test_dropping_a_blocking_reference_wakes_the_waiting_owner() -> None:
    rec = Recorder()
    g = rec.graph()
    g.observe(DEPLOY, obj(DEPLOY))
    g.observe(RS, obj(RS, [ref(DEPLOY)]))
    g.observe(RS, obj(RS, [ref(DEPLOY, block=False)]), obj(RS, [ref(DEPLOY)]))
    assert rec.deletes == ["d-uid"]
    assert g.nodes["d-uid"].blocking_dependents() == []
    g.observe(RS, obj(RS), obj(RS, [ref(DEPLOY, block=False)]))
    assert g.nodes["d-uid"].dependents == set()


def test_deleting_the_last_dependent_wakes_an_owner_deleting_in_the_foreground() -> None:
    rec = Recorder()
    g = rec.graph()
    g.observe(DEPLOY, obj(DEPLOY, deleting=True, finalizers=["foregroundDeletion"]))
    g.observe(RS, obj(RS, [ref(DEPLOY)]))
    rec.deletes.clear()
    g.observe_delete(RS)
    assert rec.deletes == ["d-uid"]


def test_owner_in_another_namespace_is_reported() -> None:
    rec = Recorder()
    g = rec.graph()
    g.observe(DEPLOY, obj(DEPLOY))
    stray = Identity("apps/v1", "ReplicaSet", "stray", "stray-uid", "other")
    g.observe(stray, obj(stray, [ref(DEPLOY)]))
    assert rec.invalid == [("stray-uid", "d-uid")]
    assert rec.deletes == ["stray-uid"]


def test_cluster_scoped_owner_of_namespaced_dependent_has_no_namespace() -> None:
    rec = Recorder()
    g = rec.graph()
    node_owner = {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "n-uid"}
    g.observe(RS, obj(RS, [node_owner]))
    assert g.nodes["n-uid"].identity.namespace == ""


def test_references_diffs_and_absent_cache_bound() -> None:
    a, b, c = {"uid": "a"}, {"uid": "b"}, {"uid": "c", "blockOwnerDeletion": True}
    added, removed, changed = references_diffs([a, b, {"uid": "c"}], [b, c, {"uid": "d"}])
    assert added == [{"uid": "d"}] and removed == [a] and changed == [({"uid": "c"}, c)]
    cache = AbsentOwnerCache(size=2)
    ids = [Identity("v1", "ConfigMap", f"c{i}", f"u{i}", "ns") for i in range(3)]
    for i in ids:
        cache.add(i)
    assert ids[0] not in cache and ids[1] in cache and ids[2] in cache


def test_monitored_resources_one_per_storage_without_events() -> None:
    plurals = [(r.group, r.plural) for r in monitored_resources()]
    assert ("apps", "deployments") in plurals and ("", "pods") in plurals and ("", "namespaces") in plurals
    assert ("", "events") not in plurals and ("events.k8s.io", "events") not in plurals
    assert plurals.count(("autoscaling", "horizontalpodautoscalers")) == 1
    assert ("", "bindings") not in plurals
    assert resource_for("apps/v1beta2", "ReplicaSet") is resource_for("apps/v1", "ReplicaSet")
    assert resource_for("example.com/v1", "Widget") is None
    assert Node(DEPLOY).observed


def test_updates_that_keep_the_owners_change_nothing_and_others_still_count() -> None:
    rec = Recorder()
    g = rec.graph()
    g.observe(DEPLOY, obj(DEPLOY))
    g.observe(RS, obj(RS, [ref(DEPLOY)]))
    rec.deletes.clear()
    before = obj(RS, [ref(DEPLOY)])
    after = obj(RS, [ref(DEPLOY)])
    after["status"] = {"replicas": 3}  # a status update (the common case: leases, pod and node status)
    g.observe(RS, after, before)
    assert rec.deletes == [] and rec.orphans == []
    assert g.nodes["rs-uid"].owners == [ref(DEPLOY)]
    # The owner reference unblocking is still seen: the owner is queued.
    unblocked = obj(RS, [ref(DEPLOY, block=False)])
    g.observe(RS, unblocked, after)
    assert rec.deletes == ["d-uid"] and g.nodes["rs-uid"].owners == [ref(DEPLOY, block=False)]
    # So is a foreground deletion starting with unchanged owners.
    rec.deletes.clear()
    deleting = obj(RS, [ref(DEPLOY, block=False)], deleting=True, finalizers=["foregroundDeletion"])
    g.observe(RS, deleting, unblocked)
    node = g.nodes["rs-uid"]
    assert node.being_deleted and node.deleting_dependents and node.foreground_pending
    assert rec.deletes == ["rs-uid"]
