from pyk8s.scheduler.framework.interface import Code, CycleState, QueueingHint
from pyk8s.scheduler.framework.types import PodInfo
from pyk8s.scheduler.plugins.node_unschedulable import ERR_REASON_UNSCHEDULABLE, NodeUnschedulable
from tests.unit.scheduler.helpers import make_node, make_pod, node_info, run_filter


def test_cordoned_node_rejects_pods_without_toleration():
    s = run_filter(NodeUnschedulable(), make_pod("p"), node_info(make_node("n", unschedulable=True)))
    assert s is not None and s.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert s.message() == ERR_REASON_UNSCHEDULABLE == "node(s) were unschedulable"


def test_toleration_of_unschedulable_taint_allows_cordoned_node():
    pod = make_pod("p", spec={"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                               "effect": "NoSchedule"}]})
    assert run_filter(NodeUnschedulable(), pod, node_info(make_node("n", unschedulable=True))) is None
    wrong_effect = make_pod("q", spec={"tolerations": [{"key": "node.kubernetes.io/unschedulable",
                                                        "operator": "Exists", "effect": "NoExecute"}]})
    assert run_filter(NodeUnschedulable(), wrong_effect, node_info(make_node("n", unschedulable=True))) is not None


def test_schedulable_node_passes_and_batch_agrees():
    pl = NodeUnschedulable()
    nodes = [node_info(make_node("a")), node_info(make_node("b", unschedulable=True))]
    assert [i for i, _ in pl.filter_nodes(CycleState(), PodInfo(make_pod("p")), nodes)] == [1]


def test_node_update_hint_queues_only_when_uncordoned():
    pl = NodeUnschedulable()
    pi = PodInfo(make_pod("p"))
    assert pl._node_hint(pi, None, make_node("n", unschedulable=True)) is QueueingHint.QUEUE_SKIP
    assert pl._node_hint(pi, None, make_node("n")) is QueueingHint.QUEUE
