from pyk8s.scheduler.framework.interface import Code, CycleState
from pyk8s.scheduler.framework.types import PodInfo
from pyk8s.scheduler.plugins.inter_pod_affinity import (
    ERR_REASON_AFFINITY_RULES_NOT_MATCH,
    ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH,
    ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH,
    InterPodAffinity,
)
from tests.unit.scheduler.helpers import build_cache, framework, make_node, make_pod


def term(app, key="zone"):
    return {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}


def setup(existing):
    nodes = [make_node("a1", labels={"zone": "a"}), make_node("a2", labels={"zone": "a"}),
             make_node("b1", labels={"zone": "b"})]
    cache = build_cache(nodes, existing)
    return cache, InterPodAffinity({}, framework(cache, plugins=[]))


def filter_all(pl, cache, pod):
    pi = PodInfo(pod)
    state = CycleState()
    nodes = cache.node_list()
    _, s = pl.pre_filter(state, pi, nodes)
    if s is not None:
        return s
    return {ni.name: pl.filter(state, pi, ni) for ni in nodes}


def test_no_affinity_anywhere_skips():
    cache, pl = setup([make_pod("x", node_name="a1")])
    s = filter_all(pl, cache, make_pod("p"))
    assert s.code is Code.SKIP


def test_required_affinity_follows_matching_pods():
    cache, pl = setup([make_pod("db", node_name="a1", labels={"app": "db"})])
    pod = make_pod("p", spec={"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("db")]}}})
    res = filter_all(pl, cache, pod)
    assert res["a1"] is None and res["a2"] is None
    assert res["b1"].code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert res["b1"].message() == ERR_REASON_AFFINITY_RULES_NOT_MATCH == "node(s) didn't match pod affinity rules"


def test_first_pod_of_self_affine_group_may_go_anywhere():
    cache, pl = setup([])
    pod = make_pod("p", labels={"app": "web"},
                   spec={"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("web")]}}})
    assert all(v is None for v in filter_all(pl, cache, pod).values())


def test_required_anti_affinity():
    cache, pl = setup([make_pod("w", node_name="a1", labels={"app": "web"})])
    pod = make_pod("p", spec={"affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [term("web")]}}})
    res = filter_all(pl, cache, pod)
    assert res["b1"] is None
    assert res["a2"].code is Code.UNSCHEDULABLE
    assert res["a2"].message() == ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH


def test_existing_pods_anti_affinity():
    existing = make_pod("w", node_name="a1", spec={"affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [term("web", "kubernetes.io/hostname")]}}})
    cache, pl = setup([existing])
    res = filter_all(pl, cache, make_pod("p", labels={"app": "web"}))
    assert res["a1"].message() == ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH
    assert res["a2"] is None and res["b1"] is None


def test_other_namespace_does_not_match():
    cache, pl = setup([make_pod("db", "other", node_name="a1", labels={"app": "db"})])
    pod = make_pod("p", spec={"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("db")]}}})
    res = filter_all(pl, cache, pod)
    assert all(v is not None for v in res.values())


def test_preferred_affinity_scoring():
    cache, pl = setup([make_pod("db", node_name="b1", labels={"app": "db"})])
    pod = PodInfo(make_pod("p", spec={"affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "podAffinityTerm": term("db")}]}}}))
    nodes = cache.node_list()
    state = CycleState()
    assert pl.pre_score(state, pod, nodes) is None
    scores, _ = pl.score(state, pod, nodes)
    pl.normalize_score(state, pod, nodes, scores)
    by = dict(zip([n.name for n in nodes], scores, strict=True))
    assert by == {"a1": 0, "a2": 0, "b1": 100}


def test_preemption_extension_remove_pod():
    cache, pl = setup([make_pod("w", node_name="a1", labels={"app": "web"})])
    pod = PodInfo(make_pod("p", spec={"affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [term("web", "kubernetes.io/hostname")]}}}))
    state = CycleState()
    pl.pre_filter(state, pod, cache.node_list())
    a1 = cache.nodes["a1"]
    assert pl.filter(state, pod, a1) is not None
    pl.remove_pod(state, pod, next(iter(a1.pods.values())), a1)
    assert pl.filter(state, pod, a1) is None


def test_counting_by_label_set_agrees_with_counting_pod_by_pod(monkeypatch):
    existing = [make_pod("w1", node_name="a1", labels={"app": "web"}),
                make_pod("w2", node_name="a1", labels={"app": "web", "tier": "fe"}),
                make_pod("w3", "other", node_name="b1", labels={"app": "web"}),
                make_pod("d1", node_name="a2", labels={"app": "db"})]
    cache, pl = setup(existing)
    anywhere = {**term("web", "kubernetes.io/hostname"), "namespaceSelector": {}}
    pod = PodInfo(make_pod("p", spec={"affinity": {
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("web")],
                        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 5, "podAffinityTerm": anywhere}]},
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("db", "kubernetes.io/hostname")],
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {"weight": 2, "podAffinityTerm": term("web", "zone")}]}}}))

    def run(nodes):
        state = CycleState()
        pl.pre_filter(state, pod, nodes)
        f = state.get("PreFilterInterPodAffinity")
        pl.pre_score(state, pod, nodes)
        return f.affinity_counts, f.anti_affinity_counts, state.get("PreScoreInterPodAffinity").topology_score

    nodes = cache.node_list()
    indexed = run(nodes)
    assert indexed[0] == {("zone", "a"): 2}
    assert indexed[1] == {("kubernetes.io/hostname", "a2"): 1}
    # web pods of every namespace attract (5 per pod) by hostname; same-namespace web pods repel (2) by zone.
    assert indexed[2] == {"kubernetes.io/hostname": {"a1": 10, "b1": 5}, "zone": {"a": -4}}
    clones = [ni.clone() for ni in nodes]
    monkeypatch.setattr(cache.snapshot, "node_infos", lambda: clones)  # NodeInfos the index does not cover
    assert run(clones) == indexed
