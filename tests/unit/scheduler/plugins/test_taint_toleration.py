from pyk8s.scheduler.framework.interface import Code, CycleState
from pyk8s.scheduler.framework.types import PodInfo
from pyk8s.scheduler.plugins.taint_toleration import TaintToleration
from tests.unit.scheduler.helpers import make_node, make_pod, node_info, run_filter

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def test_untolerated_no_schedule_taint_message():
    s = run_filter(TaintToleration(), make_pod("p"), node_info(make_node("cp", taints=[CP_TAINT])))
    assert s is not None and s.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert s.message() == "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"


def test_value_shown_and_no_execute_counts():
    node = node_info(make_node("n", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]))
    s = run_filter(TaintToleration(), make_pod("p"), node)
    assert s is not None and s.message() == "node(s) had untolerated taint {dedicated: gpu}"


def test_tolerations_equal_and_exists():
    node = node_info(make_node("n", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]))
    equal = make_pod("a", spec={"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu"}]})
    exists = make_pod("b", spec={"tolerations": [{"operator": "Exists"}]})
    wrong = make_pod("c", spec={"tolerations": [{"key": "dedicated", "value": "cpu"}]})
    assert run_filter(TaintToleration(), equal, node) is None
    assert run_filter(TaintToleration(), exists, node) is None
    assert run_filter(TaintToleration(), wrong, node) is not None


def test_prefer_no_schedule_does_not_filter_but_scores_lower():
    pl = TaintToleration()
    prefer = node_info(make_node("a", taints=[{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]))
    clean = node_info(make_node("b"))
    pod = PodInfo(make_pod("p"))
    assert run_filter(pl, pod, prefer) is None
    state = CycleState()
    assert pl.pre_score(state, pod, [prefer, clean]) is None
    scores, s = pl.score(state, pod, [prefer, clean])
    assert s is None and scores == [1, 0]
    pl.normalize_score(state, pod, [prefer, clean], scores)
    assert scores == [0, 100]


def test_pre_score_skips_when_no_node_has_prefer_taints():
    s = TaintToleration().pre_score(CycleState(), PodInfo(make_pod("p")), [node_info(make_node("a"))])
    assert s is not None and s.is_skip()
