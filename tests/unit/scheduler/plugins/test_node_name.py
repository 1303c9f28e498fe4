from pyk8s.scheduler.framework.interface import Code, CycleState
from pyk8s.scheduler.framework.types import PodInfo
from pyk8s.scheduler.plugins.node_name import ERR_REASON, NodeName
from tests.unit.scheduler.helpers import make_node, make_pod, node_info, run_filter


def test_pod_without_node_name_fits_anywhere_and_skips():
    pl = NodeName()
    _, s = pl.pre_filter(CycleState(), PodInfo(make_pod("p")), [])
    assert s is not None and s.code is Code.SKIP
    assert run_filter(pl, make_pod("p"), node_info(make_node("n1"))) is None


def test_node_name_must_match():
    pl = NodeName()
    pod = make_pod("p", spec={"nodeName": "n2"})
    assert run_filter(pl, pod, node_info(make_node("n2"))) is None
    s = run_filter(pl, pod, node_info(make_node("n1")))
    assert s is not None and s.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE and s.reasons == (ERR_REASON,)


def test_batch_filter_matches_per_node():
    pl = NodeName()
    pod = PodInfo(make_pod("p", spec={"nodeName": "n1"}))
    nodes = [node_info(make_node(f"n{i}")) for i in range(3)]
    failed = pl.filter_nodes(CycleState(), pod, nodes)
    assert [i for i, _ in failed] == [0, 2]
