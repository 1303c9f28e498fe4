from pyk8s.client.kinds import REPLICA_SETS, SERVICES
from pyk8s.scheduler.framework.interface import Code, CycleState
from pyk8s.scheduler.framework.types import PodInfo
from pyk8s.scheduler.plugins.pod_topology_spread import (
    ERR_REASON_CONSTRAINTS_NOT_MATCH,
    ERR_REASON_NODE_LABEL_NOT_MATCH,
    PodTopologySpread,
)
from tests.unit.scheduler.helpers import DictLister, build_cache, framework, make_node, make_pod


def spread(max_skew=1, key="zone", when="DoNotSchedule", **extra):
    return {"topologySpreadConstraints": [{"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
                                           "labelSelector": {"matchLabels": {"app": "web"}}, **extra}]}


def setup(existing, extra_nodes=(), listers=None):
    nodes = [make_node("a1", labels={"zone": "a"}), make_node("a2", labels={"zone": "a"}),
             make_node("b1", labels={"zone": "b"}), *extra_nodes]
    cache = build_cache(nodes, existing)
    fwk = framework(cache, plugins=[], listers=listers)
    return cache, PodTopologySpread({}, fwk)


def filter_all(pl, cache, pod):
    pi = PodInfo(pod)
    state = CycleState()
    nodes = cache.node_list()
    _, s = pl.pre_filter(state, pi, nodes)
    if s is not None:
        return s
    return {ni.name: pl.filter(state, pi, ni) for ni in nodes}


def web(name, node):
    return make_pod(name, node_name=node, labels={"app": "web"})


def test_skew_filter():
    cache, pl = setup([web("w1", "a1"), web("w2", "a2")])
    res = filter_all(pl, cache, make_pod("p", labels={"app": "web"}, spec=spread()))
    assert res["b1"] is None
    assert res["a1"] is not None and res["a1"].code is Code.UNSCHEDULABLE
    assert res["a1"].message() == ERR_REASON_CONSTRAINTS_NOT_MATCH
    assert ERR_REASON_CONSTRAINTS_NOT_MATCH == "node(s) didn't match pod topology spread constraints"


def test_missing_topology_label_is_unresolvable():
    cache, pl = setup([], extra_nodes=[make_node("nolabel")])
    res = filter_all(pl, cache, make_pod("p", labels={"app": "web"}, spec=spread()))
    assert res["nolabel"].code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert res["nolabel"].message() == ERR_REASON_NODE_LABEL_NOT_MATCH


def test_pod_not_matching_its_own_selector_and_max_skew():
    cache, pl = setup([web("w1", "a1"), web("w2", "a2")])
    res = filter_all(pl, cache, make_pod("p", labels={"app": "other"}, spec=spread(max_skew=2)))
    assert all(v is None for v in res.values())


def test_min_domains_treats_global_minimum_as_zero():
    cache, pl = setup([web("w1", "b1")])
    # Two domains exist but minDomains=3: global minimum counts as 0, so zone b (1 pod) + self > maxSkew 1.
    res = filter_all(pl, cache, make_pod("p", labels={"app": "web"}, spec=spread(minDomains=3)))
    assert res["b1"] is not None and res["a1"] is None


def test_node_affinity_policy_honor_excludes_nodes():
    cache, pl = setup([web("w1", "a1")])
    pod = make_pod("p", labels={"app": "web"}, spec={**spread(), "nodeSelector": {"zone": "a"}})
    # Zone b (0 pods) is outside the pod's node selector, so it does not count: zone a is the minimum itself.
    assert filter_all(pl, cache, pod)["a1"] is None
    ignore = make_pod("q", labels={"app": "web"}, spec={**spread(nodeAffinityPolicy="Ignore"),
                                                        "nodeSelector": {"zone": "a"}})
    assert filter_all(pl, cache, ignore)["a1"] is not None


def test_schedule_anyway_scoring_prefers_emptier_domains():
    cache, pl = setup([web("w1", "a1"), web("w2", "a2")])
    pod = PodInfo(make_pod("p", labels={"app": "web"}, spec=spread(when="ScheduleAnyway")))
    nodes = cache.node_list()
    state = CycleState()
    assert pl.pre_score(state, pod, nodes) is None
    scores, _ = pl.score(state, pod, nodes)
    pl.normalize_score(state, pod, nodes, scores)
    by = dict(zip([n.name for n in nodes], scores, strict=True))
    assert by["b1"] == 100 and by["a1"] < by["b1"] and by["a1"] == by["a2"]


def test_system_default_constraints_need_a_selecting_owner_or_service():
    cache, pl = setup([])
    plain = PodInfo(make_pod("p", labels={"app": "web"}))
    s = pl.pre_score(CycleState(), plain, cache.node_list())
    assert s is not None and s.is_skip()
    svc = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}}}
    cache, pl = setup([web("w1", "a1")], listers={SERVICES: DictLister([svc])})
    state = CycleState()
    assert pl.pre_score(state, plain, cache.node_list()) is None
    scores, _ = pl.score(state, plain, cache.node_list())
    pl.normalize_score(state, plain, cache.node_list(), scores)
    by = dict(zip([n.name for n in cache.node_list()], scores, strict=True))
    assert by["a1"] < by["b1"]


def test_default_selector_from_replica_set_owner():
    rs = {"metadata": {"name": "rs", "namespace": "default"},
          "spec": {"selector": {"matchLabels": {"app": "web"}}}}
    _cache, pl = setup([], listers={REPLICA_SETS: DictLister([rs])})
    pod = make_pod("p", labels={"app": "web"})
    pod["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                           "controller": True, "uid": "u"}]
    sel = pl.default_selector(PodInfo(pod))
    assert sel.matches({"app": "web"}) and not sel.matches({"app": "db"})


def test_add_remove_pod_extensions_update_counts():
    cache, pl = setup([web("w1", "a1")])
    pod = PodInfo(make_pod("p", labels={"app": "web"}, spec=spread()))
    state = CycleState()
    nodes = cache.node_list()
    pl.pre_filter(state, pod, nodes)
    a1 = cache.nodes["a1"]
    assert pl.filter(state, pod, a1) is not None
    pl.remove_pod(state, pod, next(iter(a1.pods.values())), a1)
    assert pl.filter(state, pod, a1) is None
