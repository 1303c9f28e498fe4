from pyk8s.scheduler.framework.interface import CycleState
from pyk8s.scheduler.framework.types import PodInfo
from pyk8s.scheduler.plugins.node_resources_balanced_allocation import NodeResourcesBalancedAllocation, balanced_score
from tests.unit.scheduler.helpers import make_node, make_pod, node_info


def test_balanced_score_formula():
    assert balanced_score([50, 50], [100, 100]) == 100
    assert balanced_score([100, 0], [100, 100]) == 50
    assert balanced_score([200, 0], [100, 100]) == 50  # fractions capped at 1
    assert balanced_score([30, 60, 90], [100, 100, 100]) == 75


def test_prefers_balanced_nodes():
    pl = NodeResourcesBalancedAllocation({})
    pod = PodInfo(make_pod("p", cpu="1", memory="1Gi"))
    cpu_heavy = node_info(make_node("a", cpu="4", memory="4Gi"), [make_pod("x", cpu="2", node_name="a", memory=None)])
    balanced = node_info(make_node("b", cpu="4", memory="4Gi"), [make_pod("y", cpu="1", memory="1Gi", node_name="b")])
    state = CycleState()
    assert pl.pre_score(state, pod, [cpu_heavy, balanced]) is None
    scores, _ = pl.score(state, pod, [cpu_heavy, balanced])
    # a: cpu 3/4, mem 1/4 -> std .25 -> 75; b: 2/4 and 2/4 -> 100
    assert scores == [75, 100]


def test_best_effort_pod_skips():
    s = NodeResourcesBalancedAllocation({}).pre_score(CycleState(), PodInfo(make_pod("p", cpu=None, memory=None)), [])
    assert s is not None and s.is_skip()
