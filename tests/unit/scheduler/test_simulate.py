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
