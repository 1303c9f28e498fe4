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


def _mixed_pods():
    """web pods on a1 (2), a2 (1 + 1 terminating), a web pod of another namespace and a db pod on b1."""
    terminating = web("w4", "a2")
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return [web("w1", "a1"), web("w2", "a1"), web("w3", "a2"), terminating,
            make_pod("o1", "other", node_name="b1", labels={"app": "web"}),
            make_pod("d1", node_name="b1", labels={"app": "db"})]


def _scores(pl, pod, nodes):
    state = CycleState()
    assert pl.pre_score(state, pod, nodes) is None
    scores, _ = pl.score(state, pod, nodes)
    pl.normalize_score(state, pod, nodes, scores)
    return scores, state.get("PreScorePodTopologySpread").tp_counts


def test_counting_by_label_set_agrees_with_counting_pod_by_pod(monkeypatch):
    cache, pl = setup(_mixed_pods(), extra_nodes=[make_node("c1", labels={"zone": "c"})])
    spec = {"topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchLabels": {"app": "web"}}},
        {"maxSkew": 2, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchLabels": {"app": "web"}}}]}
    pod = PodInfo(make_pod("p", labels={"app": "web"}, spec=spec))
    nodes = cache.node_list()
    fast, fast_counts = _scores(pl, pod, nodes)  # domain totals from the cache's per-zone counts
    assert fast_counts[0] == {"a": 3, "b": 0, "c": 0}
    # Node by node (as with a node selector), and on NodeInfos outside the cache: pod by pod.
    monkeypatch.setattr(PodTopologySpread, "_every_node_counts", staticmethod(lambda *a: False))
    assert _scores(pl, pod, nodes) == (fast, fast_counts)
    clones = [ni.clone() for ni in nodes]
    assert _scores(pl, pod, clones) == (fast, fast_counts)
    by = dict(zip([n.name for n in nodes], fast, strict=True))
    assert by["c1"] == 100 and by["a1"] < by["a2"] < by["b1"]


def test_hard_constraints_count_by_label_set():
    cache, pl = setup(_mixed_pods())
    pod = make_pod("p", labels={"app": "web"}, spec=spread(max_skew=2))
    # zone a holds 3 live web pods of this namespace, zone b none: a is 3 + 1 - 0 > 2 apart.
    res = filter_all(pl, cache, pod)
    assert res["b1"] is None and res["a1"] is not None and res["a2"] is not None
    state = CycleState()
    pl.pre_filter(state, PodInfo(pod), [ni.clone() for ni in cache.node_list()])
    assert state.get("PreFilterPodTopologySpread").tp_counts == [{"a": 3, "b": 0}]


def test_system_default_spreading_of_replica_set_pods():
    rs = {"metadata": {"name": "rs", "namespace": "default"},
          "spec": {"selector": {"matchLabels": {"app": "web"}}}}

    def owned(name, node=""):
        p = make_pod(name, node_name=node, labels={"app": "web"})
        p["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                             "controller": True, "uid": "u"}]
        return p

    cache, pl = setup([owned("w1", "a1"), owned("w2", "a1"), owned("w3", "b1")], listers={REPLICA_SETS: DictLister([rs])})
    scores, counts = _scores(pl, PodInfo(owned("p")), cache.node_list())
    by = dict(zip([n.name for n in cache.node_list()], scores, strict=True))
    # The hostname default (maxSkew 3) prefers the empty node; the nodes have no zone label.
    assert by["a2"] == 100 and by["a1"] < by["b1"] < by["a2"]
    assert counts[1] == {"": 3}


def test_round_half_away_is_gos_math_round():
    from pyk8s.scheduler.plugins.pod_topology_spread import round_half_away

    assert [round_half_away(x) for x in (0.49999999999999994, 0.5, 1.5, 2.5, 2.4999, -2.5, -0.4)] == [0, 1, 2, 3, 2, -3, 0]
