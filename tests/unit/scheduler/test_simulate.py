from pyk8s.scheduler.framework.runtime import Profile
from pyk8s.scheduler.simulate import build_cache, make_node, make_pod, schedule_offline


def test_offline_scheduling_fills_nodes_and_reports_failures():
    cache = build_cache([make_node("a", cpu="1"), make_node("b", cpu="1")])
    pods = [make_pod(f"p{i}", cpu="400m") for i in range(5)]
    result = schedule_offline(cache, pods)
    placed = [n for n in result.placements.values() if n]
    assert sorted(placed) == ["a", "a", "b", "b"]
    [(failed, message)] = result.failures.items()
    assert failed == "default/p4"
    assert message == "0/2 nodes are available: 2 Insufficient cpu."
    assert cache.assumed_count() == 4 and result.seconds > 0


def test_offline_respects_a_custom_profile():
    cache = build_cache([make_node("a", unschedulable=True)])
    profile = Profile().without("NodeUnschedulable")
    assert schedule_offline(cache, [make_pod("p")], profile=profile).placements == {"default/p": "a"}


def test_static_listers_let_default_spreading_see_the_owner():
    from pyk8s.client.kinds import REPLICA_SETS
    from pyk8s.scheduler.simulate import StaticListers

    rs = {"metadata": {"name": "web-h", "namespace": "default"},
          "spec": {"selector": {"matchLabels": {"app": "web", "pod-template-hash": "h"}}}}
    owner = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-h", "uid": "u", "controller": True}]
    pods = []
    for i in range(6):
        p = make_pod(f"w{i}", cpu=None, memory=None, labels={"app": "web", "pod-template-hash": "h"})
        p["metadata"]["ownerReferences"] = owner
        pods.append(p)
    cache = build_cache([make_node(n) for n in ("a", "b", "c")])
    listers = StaticListers({REPLICA_SETS: [rs]})
    assert listers(REPLICA_SETS).get("default/web-h") is rs and listers(REPLICA_SETS).list("other") == []
    result = schedule_offline(cache, pods, listers=listers)
    # Best-effort pods score the same on every node but for the hostname spreading default: 2 per node.
    assert sorted(result.placements.values()) == ["a", "a", "b", "b", "c", "c"]
