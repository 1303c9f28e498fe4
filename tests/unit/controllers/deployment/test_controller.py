"""The Deployment controller, driven together with the ReplicaSet controller and a fake kubelet."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pyk8s.api import errors
from pyk8s.client.kinds import DEPLOYMENTS, PODS, REPLICA_SETS
from pyk8s.controllers.deployment import DESCRIPTOR, DeploymentController
from pyk8s.controllers.deployment.hash import compute_hash
from pyk8s.controllers.deployment.util import get_condition, max_surge, max_unavailable
from pyk8s.controllers.replicaset import ReplicaSetController
from tests.unit.controllers.harness import Harness

NS = "default"
REVISION = "deployment.kubernetes.io/revision"


def template(image: str = "nginx:1", annotations: dict | None = None) -> dict:
    t: dict = {"metadata": {"labels": {"app": "web"}},
               "spec": {"containers": [{"name": "c", "image": image}]}}
    if annotations:
        t["metadata"]["annotations"] = annotations
    return t


def deployment(replicas: int = 3, *, image: str = "nginx:1", strategy: dict | None = None, history: int = 10,
               deadline: int = 600, paused: bool = False) -> dict:
    spec: dict = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": template(image),
                  "strategy": strategy or {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                  "revisionHistoryLimit": history, "progressDeadlineSeconds": deadline}
    if paused:
        spec["paused"] = True
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS}, "spec": spec}


class Cluster:
    def __init__(self, world: Harness) -> None:
        self.world = world
        self.fake = world.client
        self.rsc = ReplicaSetController(world.ctx)
        self.dc = DeploymentController(world.ctx)

    async def run(self, check: object = None) -> None:
        await self.world.run(self.dc, self.rsc, check=check)  # type: ignore[arg-type]

    async def converge(self, *, check: object = None, rounds: int = 50) -> None:
        """Run controllers and the fake kubelet (pods become ready, terminating pods go) until nothing changes."""
        for _ in range(rounds):
            await self.run(check)
            changed = await self.world.make_ready() or await self.world.finish_terminating()
            if not changed:
                await self.run(check)
                return
        raise AssertionError("no steady state")

    async def deployment(self) -> dict:
        return await self.fake.get(DEPLOYMENTS, "web", NS)

    async def edit(self, change: object) -> None:
        d = await self.deployment()
        change(d)  # type: ignore[operator]
        await self.fake.update(DEPLOYMENTS, d)

    def replica_sets(self) -> list[dict]:
        return sorted(self.fake.objects(REPLICA_SETS, NS), key=lambda r: int(r["metadata"]["annotations"][REVISION]))

    def live_pods(self) -> list[dict]:
        return [p for p in self.world.pods() if not p["metadata"].get("deletionTimestamp")]


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    world = Harness()
    c = Cluster(world)
    await world.start()
    yield c
    await world.stop()


def condition(status: dict, cond_type: str) -> dict:
    found = get_condition(status, cond_type)
    assert found is not None, f"no {cond_type} condition in {status}"
    return found


def is_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or ())


def test_descriptor() -> None:
    assert DESCRIPTOR.name == "deployment"
    assert DESCRIPTOR.new is DeploymentController


async def test_new_deployment_rolls_out(cluster: Cluster) -> None:
    d = await cluster.fake.create(DEPLOYMENTS, deployment(3))
    await cluster.converge()
    [rs] = cluster.replica_sets()
    pod_hash = compute_hash(d["spec"]["template"], None)
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["metadata"]["labels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["selector"] == {"matchLabels": {"app": "web", "pod-template-hash": pod_hash}}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                                  "uid": d["metadata"]["uid"], "controller": True,
                                                  "blockOwnerDeletion": True}]
    assert rs["metadata"]["annotations"] == {REVISION: "1", "deployment.kubernetes.io/desired-replicas": "3",
                                             "deployment.kubernetes.io/max-replicas": "4"}
    assert rs["spec"]["replicas"] == 3
    assert all(p["metadata"]["labels"]["pod-template-hash"] == pod_hash for p in cluster.world.pods())

    d = await cluster.deployment()
    st = d["status"]
    assert (st["observedGeneration"], st["replicas"], st["updatedReplicas"], st["readyReplicas"],
            st["availableReplicas"]) == (1, 3, 3, 3, 3)
    assert "unavailableReplicas" not in st
    available = condition(st, "Available")
    progressing = condition(st, "Progressing")
    assert (available["status"], available["reason"], available["message"]) == (
        "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "True", "NewReplicaSetAvailable", f'ReplicaSet "web-{pod_hash}" has successfully progressed.')
    events = await cluster.world.involved_events()
    assert ("Normal", "ScalingReplicaSet", f"Scaled up replica set web-{pod_hash} from 0 to 3",
            "Deployment/web") in events
    # The revision goes onto the Deployment through a status write (upstream's status strategy keeps it).
    status_writes = [a for a in cluster.fake.actions if a.resource == "deployments" and a.subresource == "status"]
    assert any(a.body["metadata"].get("annotations", {}).get(REVISION) == "1" for a in status_writes)


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), [
    (4, 1, 1), (5, "25%", "25%"), (3, 0, 1), (3, 2, 0), (10, "30%", "20%"),
])
async def test_rolling_update_respects_surge_and_unavailability(cluster: Cluster, replicas: int, surge: object,
                                                                unavailable: object) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    await cluster.fake.create(DEPLOYMENTS, deployment(replicas, strategy=strategy))
    await cluster.converge()
    d = await cluster.deployment()
    surge_n, unavailable_n = max_surge(d), max_unavailable(d)
    seen_steps = 0

    def check() -> None:
        nonlocal seen_steps
        seen_steps += 1
        rss = cluster.fake.objects(REPLICA_SETS, NS)
        assert sum(r["spec"]["replicas"] for r in rss) <= replicas + surge_n
        live = cluster.live_pods()
        assert len(live) <= replicas + surge_n
        assert sum(1 for p in live if is_ready(p)) >= replicas - unavailable_n

    await cluster.edit(lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "nginx:2"))
    # Pods become ready one at a time, so every intermediate state is visited.
    for _ in range(200):
        await cluster.run(check)
        if not (await cluster.world.make_ready(limit=1) or await cluster.world.finish_terminating()):
            break
    await cluster.run(check)
    assert seen_steps > 5
    old, new = cluster.replica_sets()
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, replicas)
    assert new["metadata"]["annotations"][REVISION] == "2"
    assert all(p["spec"]["containers"][0]["image"] == "nginx:2" for p in cluster.world.pods())
    st = (await cluster.deployment())["status"]
    assert (st["replicas"], st["updatedReplicas"], st["availableReplicas"]) == (replicas, replicas, replicas)
    assert condition(st, "Progressing")["reason"] == "NewReplicaSetAvailable"
    # (The recorder's correlator folds many similar events into one, as upstream's does.)
    messages = [e[2].removeprefix("(combined from similar events): ") for e in await cluster.world.involved_events()]
    assert any(m.startswith(f"Scaled down replica set {old['metadata']['name']} from ") and m.endswith(" to 0")
               for m in messages)


async def test_recreate_removes_old_pods_before_creating_new_ones(cluster: Cluster) -> None:
    await cluster.fake.create(DEPLOYMENTS, deployment(3, strategy={"type": "Recreate"}))
    await cluster.converge()
    await cluster.edit(lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "nginx:2"))
    await cluster.run()
    [old] = cluster.fake.objects(REPLICA_SETS, NS)  # no new ReplicaSet while old pods exist
    assert old["spec"]["replicas"] == 0
    assert len(cluster.world.pods()) == 3 and not cluster.live_pods()  # all terminating
    await cluster.world.finish_terminating()
    await cluster.run()
    old, new = cluster.replica_sets()
    assert new["spec"]["replicas"] == 3 and new["metadata"]["annotations"][REVISION] == "2"
    await cluster.converge()
    assert all(p["spec"]["containers"][0]["image"] == "nginx:2" for p in cluster.world.pods())
    st = (await cluster.deployment())["status"]
    assert st["availableReplicas"] == 3 and st["updatedReplicas"] == 3


async def test_pause_stops_rollouts_but_not_scaling(cluster: Cluster) -> None:
    await cluster.fake.create(DEPLOYMENTS, deployment(2))
    await cluster.converge()
    await cluster.edit(lambda d: d["spec"].__setitem__("paused", True))
    await cluster.run()
    cond = condition((await cluster.deployment())["status"], "Progressing")
    assert (cond["status"], cond["reason"], cond["message"]) == ("Unknown", "DeploymentPaused", "Deployment is paused")

    def change(d: dict) -> None:
        d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
        d["spec"]["replicas"] = 4

    await cluster.edit(change)
    await cluster.converge()
    [rs] = cluster.fake.objects(REPLICA_SETS, NS)
    assert rs["spec"]["replicas"] == 4 and rs["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "4"
    assert (await cluster.deployment())["status"]["observedGeneration"] == 3

    await cluster.edit(lambda d: d["spec"].pop("paused"))
    await cluster.run()
    resumed = [a.body for a in cluster.fake.actions if a.resource == "deployments" and a.subresource == "status"
               and (get_condition(a.body["status"], "Progressing") or {}).get("reason") == "DeploymentResumed"]
    assert resumed and condition(resumed[0]["status"], "Progressing")["message"] == "Deployment is resumed"
    await cluster.converge()
    old, new = cluster.replica_sets()
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 4)


async def test_revisions_and_history_limit(cluster: Cluster) -> None:
    await cluster.fake.create(DEPLOYMENTS, deployment(1, history=1))
    await cluster.converge()
    for image in ("nginx:2", "nginx:3", "nginx:4"):
        await cluster.edit(lambda d, image=image: d["spec"]["template"]["spec"]["containers"][0].__setitem__(
            "image", image))
        await cluster.converge()
    rss = cluster.replica_sets()
    # revisionHistoryLimit 1: one old (empty) ReplicaSet is kept besides the current one.
    assert [r["metadata"]["annotations"][REVISION] for r in rss] == ["3", "4"]
    assert [r["spec"]["template"]["spec"]["containers"][0]["image"] for r in rss] == ["nginx:3", "nginx:4"]
    assert [r["spec"]["replicas"] for r in rss] == [0, 1]


async def test_rollback_by_template_reuses_the_old_replica_set(cluster: Cluster) -> None:
    await cluster.fake.create(DEPLOYMENTS, deployment(2))
    await cluster.converge()
    await cluster.edit(lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "nginx:2"))
    await cluster.converge()
    v1, v2 = cluster.replica_sets()
    # kubectl rollout undo: a JSON patch putting the old ReplicaSet's template (minus the hash label) back.
    old_template = v1["spec"]["template"]
    old_template["metadata"]["labels"].pop("pod-template-hash")
    old_template["metadata"]["creationTimestamp"] = None
    await cluster.fake.patch(DEPLOYMENTS, "web", [{"op": "replace", "path": "/spec/template", "value": old_template}],
                             NS, patch_type="json")
    await cluster.converge()
    rss = cluster.replica_sets()
    assert [r["metadata"]["name"] for r in rss] == [v2["metadata"]["name"], v1["metadata"]["name"]]
    rolled = rss[1]
    assert rolled["metadata"]["annotations"][REVISION] == "3"
    assert rolled["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert (rss[0]["spec"]["replicas"], rolled["spec"]["replicas"]) == (0, 2)
    assert len([a for a in cluster.fake.actions if a.verb == "create" and a.resource == "replicasets"]) == 2


async def test_rollout_restart_rolls_out_a_new_replica_set(cluster: Cluster) -> None:
    await cluster.fake.create(DEPLOYMENTS, deployment(2))
    await cluster.converge()
    first = {p["metadata"]["name"] for p in cluster.world.pods()}
    await cluster.fake.patch(DEPLOYMENTS, "web", {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}}}}, NS, patch_type="strategic")
    await cluster.converge()
    assert len(cluster.replica_sets()) == 2
    assert not first & {p["metadata"]["name"] for p in cluster.world.pods()}


async def test_progress_deadline_exceeded(cluster: Cluster) -> None:
    await cluster.fake.create(DEPLOYMENTS, deployment(2, deadline=60))
    await cluster.run()  # pods never become ready
    [rs] = cluster.replica_sets()
    name = rs["metadata"]["name"]
    writes = [get_condition(a.body["status"], "Progressing") for a in cluster.fake.actions
              if a.resource == "deployments" and a.subresource == "status"]
    assert ("True", "NewReplicaSetCreated", f'Created new replica set "{name}"') in [
        (c["status"], c["reason"], c["message"]) for c in writes if c]
    cond = condition((await cluster.deployment())["status"], "Progressing")
    # The pods got created: that is progress too.
    assert (cond["status"], cond["reason"], cond["message"]) == ("True", "ReplicaSetUpdated",
                                                                 f'ReplicaSet "{name}" is progressing.')
    await cluster.world.step(30)
    await cluster.run()
    assert condition((await cluster.deployment())["status"], "Progressing")["reason"] != "ProgressDeadlineExceeded"
    await cluster.world.step(32)
    await cluster.run()
    cond = condition((await cluster.deployment())["status"], "Progressing")
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False", "ProgressDeadlineExceeded", f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.')
    available = condition((await cluster.deployment())["status"], "Available")
    assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
    # Progress after the deadline reports again.
    await cluster.converge()
    cond = condition((await cluster.deployment())["status"], "Progressing")
    assert (cond["status"], cond["reason"]) == ("True", "NewReplicaSetAvailable")


async def test_adopts_orphan_replica_set_and_releases_strays(cluster: Cluster) -> None:
    d = deployment(2)
    orphan_hash = compute_hash(d["spec"]["template"], None)
    tmpl = template()
    tmpl["metadata"]["labels"]["pod-template-hash"] = orphan_hash
    await cluster.fake.create(REPLICA_SETS, {
        "metadata": {"name": f"web-{orphan_hash}", "namespace": NS, "labels": tmpl["metadata"]["labels"]},
        "spec": {"replicas": 2, "selector": {"matchLabels": tmpl["metadata"]["labels"]}, "template": tmpl}})
    created = await cluster.fake.create(DEPLOYMENTS, d)
    await cluster.converge()
    [rs] = cluster.fake.objects(REPLICA_SETS, NS)
    assert rs["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    assert rs["metadata"]["annotations"][REVISION] == "1"
    assert len([a for a in cluster.fake.actions if a.verb == "create" and a.resource == "replicasets"]) == 1
    # Relabel it: the Deployment lets it go and makes a new one.
    rs["metadata"]["labels"] = {"app": "elsewhere"}
    await cluster.fake.update(REPLICA_SETS, rs)
    await cluster.run()
    stray = await cluster.fake.get(REPLICA_SETS, rs["metadata"]["name"], NS)
    assert not stray["metadata"].get("ownerReferences")


async def test_hash_collision_bumps_collision_count(cluster: Cluster) -> None:
    d = deployment(1)
    taken = compute_hash(d["spec"]["template"], None)
    other = template("something-else")
    other["metadata"]["labels"] = {"app": "other"}
    await cluster.fake.create(REPLICA_SETS, {
        "metadata": {"name": f"web-{taken}", "namespace": NS, "labels": {"app": "other"}},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "other"}}, "template": other}})
    await cluster.fake.create(DEPLOYMENTS, d)
    await cluster.run()
    await cluster.world.step(1)  # the failed sync is retried after its backoff
    await cluster.run()
    st = (await cluster.deployment())["status"]
    assert st["collisionCount"] == 1
    mine = [r for r in cluster.fake.objects(REPLICA_SETS, NS) if r["metadata"].get("ownerReferences")]
    assert [r["metadata"]["name"] for r in mine] == [f"web-{compute_hash(d['spec']['template'], 1)}"]


async def test_failed_replica_set_create_is_reported(cluster: Cluster) -> None:
    cluster.fake.fail_next("create", "replicasets", errors.Forbidden('replicasets.apps "x" is forbidden: no'))
    await cluster.fake.create(DEPLOYMENTS, deployment(1))
    await cluster.world.settle()
    with pytest.raises(errors.Forbidden):
        await cluster.dc.reconcile(f"{NS}/web")
    cond = condition((await cluster.deployment())["status"], "Progressing")
    assert (cond["status"], cond["reason"]) == ("False", "ReplicaSetCreateError")
    assert cond["message"].startswith('Failed to create new replica set "web-')
    assert any(e[:2] == ("Warning", "ReplicaSetCreateError") for e in await cluster.world.involved_events())


async def test_deprecated_rollback_annotation(cluster: Cluster) -> None:
    await cluster.fake.create(DEPLOYMENTS, deployment(1))
    await cluster.converge()
    await cluster.edit(lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "nginx:2"))
    await cluster.converge()
    await cluster.edit(lambda d: d["metadata"].setdefault("annotations", {}).__setitem__(
        "deprecated.deployment.rollback.to", "0"))
    await cluster.converge()
    d = await cluster.deployment()
    assert "deprecated.deployment.rollback.to" not in d["metadata"].get("annotations", {})
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    assert ("Normal", "DeploymentRollback", 'Rolled back deployment "web" to revision 1',
            "Deployment/web") in await cluster.world.involved_events()
    assert [r["spec"]["replicas"] for r in cluster.replica_sets()] == [0, 1]


async def test_selecting_everything_is_refused(cluster: Cluster) -> None:
    d = deployment(1)
    d["spec"]["selector"] = {}
    await cluster.fake.create(DEPLOYMENTS, d)
    await cluster.run()
    assert cluster.fake.objects(REPLICA_SETS, NS) == []
    assert (await cluster.deployment())["status"]["observedGeneration"] == 1
    assert ("Warning", "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.",
            "Deployment/web") in await cluster.world.involved_events()


async def test_pods_are_never_created_for_a_deleted_deployment(cluster: Cluster) -> None:
    await cluster.fake.create(DEPLOYMENTS, deployment(2))
    await cluster.converge()
    await cluster.fake.delete(DEPLOYMENTS, "web", NS)
    await cluster.run()
    assert await cluster.dc.reconcile(f"{NS}/web") is None
    assert len(cluster.fake.objects(PODS, NS)) == 2  # garbage collection is another controller's job


async def test_stuck_rollout_keeps_old_pods_available(cluster: Cluster) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
    await cluster.fake.create(DEPLOYMENTS, deployment(4, strategy=strategy))
    await cluster.converge()
    await cluster.edit(lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "broken"))
    await cluster.run()  # the new pods never become ready
    await cluster.world.finish_terminating()
    await cluster.run()
    old, new = cluster.replica_sets()
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (3, 2)
    assert sum(1 for p in cluster.live_pods() if is_ready(p)) == 3
    st = (await cluster.deployment())["status"]
    assert (st["replicas"], st["updatedReplicas"], st["availableReplicas"], st["unavailableReplicas"]) == (5, 2, 3, 2)
    assert condition(st, "Available")["status"] == "True"


async def test_scaling_mid_rollout_is_proportional(cluster: Cluster) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}
    await cluster.fake.create(DEPLOYMENTS, deployment(10, strategy=strategy))
    await cluster.converge()
    await cluster.edit(lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", "broken"))
    await cluster.run()
    await cluster.world.finish_terminating()
    await cluster.run()
    old, new = cluster.replica_sets()
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (8, 5)  # upstream's worked example
    await cluster.edit(lambda d: d["spec"].__setitem__("replicas", 15))
    await cluster.run()
    old, new = cluster.replica_sets()
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (11, 7)
    for rs in (old, new):
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "15"
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "18"
    messages = [e[2].removeprefix("(combined from similar events): ") for e in await cluster.world.involved_events()]
    assert f"Scaled up replica set {old['metadata']['name']} from 8 to 11" in messages
    assert f"Scaled up replica set {new['metadata']['name']} from 5 to 7" in messages


async def test_min_ready_seconds_follows_the_deployment(cluster: Cluster) -> None:
    await cluster.fake.create(DEPLOYMENTS, deployment(1))
    await cluster.converge()
    await cluster.edit(lambda d: d["spec"].__setitem__("minReadySeconds", 5))
    await cluster.run()
    [rs] = cluster.replica_sets()
    assert rs["spec"]["minReadySeconds"] == 5
    assert len(cluster.world.pods()) == 1  # not a new template: no rollout


async def test_pod_map_reads_the_owned_replica_sets_pods_by_index(world: Harness) -> None:
    dc = DeploymentController(world.ctx)
    await world.start()
    d = await world.client.create(DEPLOYMENTS, deployment(2))
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": d["metadata"]["uid"],
           "controller": True}
    rs = await world.client.create(REPLICA_SETS, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-1", "namespace": NS, "labels": {"app": "web"}, "ownerReferences": [ref]},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template()}})

    def pod(name: str, labels: dict, owner_uid: str | None, ns: str = NS) -> dict:
        md: dict = {"name": name, "namespace": ns, "labels": labels}
        if owner_uid:
            md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
                                      "uid": owner_uid, "controller": True}]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": {"containers": [{"name": "c"}]}}

    uid = rs["metadata"]["uid"]
    world.client.seed(PODS, pod("mine", {"app": "web"}, uid))
    world.client.seed(PODS, pod("mine-too", {"app": "web"}, uid))
    world.client.seed(PODS, pod("relabelled", {"app": "db"}, uid))  # the Deployment's selector no longer matches
    world.client.seed(PODS, pod("orphan", {"app": "web"}, None))
    world.client.seed(PODS, pod("someone-elses", {"app": "web"}, "other-uid"))
    world.client.seed(PODS, pod("elsewhere", {"app": "web"}, uid, ns="other"))
    await world.settle()
    cached_d = dc.d_informer.lister.get(f"{NS}/web")
    cached_rs = dc.rs_informer.lister.get(f"{NS}/web-1")
    assert cached_d is not None and cached_rs is not None
    pod_map = dc._pod_map(cached_d, [cached_rs])
    assert {k: sorted(p["metadata"]["name"] for p in v) for k, v in pod_map.items()} == {uid: ["mine", "mine-too"]}
    mine = next(p for p in pod_map[uid] if p["metadata"]["name"] == "mine")
    without = dc._pod_map(cached_d, [cached_rs], exclude_uid=mine["metadata"]["uid"])
    assert [p["metadata"]["name"] for p in without[uid]] == ["mine-too"]
