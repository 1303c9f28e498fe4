from pyk8s.scheduler.framework.interface import Code, CycleState
from pyk8s.scheduler.framework.types import PodInfo
from pyk8s.scheduler.plugins.node_affinity import ERR_REASON_POD, NodeAffinity
from tests.unit.scheduler.helpers import make_node, make_pod, node_info, run_filter


def affinity(required=None, preferred=None):
    na = {}
    if required is not None:
        na["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": required}
    if preferred is not None:
        na["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    return {"affinity": {"nodeAffinity": na}}


def test_no_selector_skips():
    _, s = NodeAffinity().pre_filter(CycleState(), PodInfo(make_pod("p")), [])
    assert s is not None and s.is_skip()


def test_node_selector():
    pod = make_pod("p", spec={"nodeSelector": {"disk": "ssd"}})
    assert run_filter(NodeAffinity(), pod, node_info(make_node("a", labels={"disk": "ssd"}))) is None
    s = run_filter(NodeAffinity(), pod, node_info(make_node("b", labels={"disk": "hdd"})))
    assert s is not None and s.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE and s.message() == ERR_REASON_POD
    assert ERR_REASON_POD == "node(s) didn't match Pod's node affinity/selector"


def test_required_terms_are_ored_and_expressions_anded():
    terms = [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]},
                                   {"key": "gpu", "operator": "Exists"}]},
             {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["8"]}]}]
    pod = make_pod("p", spec=affinity(terms))
    fits = lambda labels: run_filter(NodeAffinity(), pod, node_info(make_node("n", labels=labels))) is None  # noqa: E731
    assert fits({"zone": "a", "gpu": "1"})
    assert not fits({"zone": "a"})
    assert fits({"cores": "16"})
    assert not fits({"cores": "8"})
    assert not fits({"zone": "c", "gpu": "1"})


def test_empty_term_matches_nothing_and_node_selector_combines():
    pod = make_pod("p", spec={**affinity([{}]), "nodeSelector": {"a": "b"}})
    assert run_filter(NodeAffinity(), pod, node_info(make_node("n", labels={"a": "b"}))) is not None


def test_match_fields_pins_nodes_in_pre_filter():
    terms = [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]
    res, s = NodeAffinity().pre_filter(CycleState(), PodInfo(make_pod("p", spec=affinity(terms))), [])
    assert s is None and res is not None and res.node_names == frozenset({"n2"})
    assert run_filter(NodeAffinity(), make_pod("p", spec=affinity(terms)), node_info(make_node("n1"))) is not None


def test_preferred_scoring_normalized():
    pref = [{"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
            {"weight": 5, "preference": {"matchExpressions": [{"key": "ssd", "operator": "Exists"}]}}]
    pl = NodeAffinity()
    pod = PodInfo(make_pod("p", spec=affinity(preferred=pref)))
    nodes = [node_info(make_node("a", labels={"zone": "a", "ssd": "1"})), node_info(make_node("b", labels={"ssd": "1"})),
             node_info(make_node("c"))]
    state = CycleState()
    assert pl.pre_score(state, pod, nodes) is None
    scores, _ = pl.score(state, pod, nodes)
    assert scores == [15, 5, 0]
    pl.normalize_score(state, pod, nodes, scores)
    assert scores == [100, 33, 0]
