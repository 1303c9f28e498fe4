import random

from pyk8s.api.labels import Operator, Requirement, Selector, selector_from_set
from pyk8s.scheduler.cache import Cache
from pyk8s.scheduler.framework.types import LabelSetKey, NodeInfo, PodInfo, label_set_key
from pyk8s.scheduler.label_index import LabelSetIndex
from pyk8s.scheduler.schedule_one import with_node_name
from tests.unit.scheduler.helpers import make_node, make_pod

ZONE = "topology.kubernetes.io/zone"
SELECTORS = [selector_from_set({"app": "web"}), selector_from_set({"app": "db", "tier": "fe"}),
             Selector((Requirement("tier", Operator.EXISTS),)), Selector()]


def brute_label_sets(ni: NodeInfo) -> dict[LabelSetKey, int]:
    out: dict[LabelSetKey, int] = {}
    for pi in ni.pods.values():
        k = label_set_key(pi.namespace, pi.labels, pi.deleting)
        out[k] = out.get(k, 0) + 1
    return out


def brute_topology(cache: Cache, key: str) -> dict[LabelSetKey, dict[str | None, int]]:
    out: dict[LabelSetKey, dict[str | None, int]] = {}
    for ni in cache.nodes.values():
        if ni.node is None:
            continue
        for k, n in brute_label_sets(ni).items():
            by_value = out.setdefault(k, {})
            v = ni.labels.get(key)
            by_value[v] = by_value.get(v, 0) + n
    return out


def brute_matching(cache: Cache, namespace: str, selector: Selector, terminating: bool) -> frozenset[LabelSetKey]:
    return frozenset(pi.label_set for pi in cache.pods()
                     if pi.namespace == namespace and (terminating or not pi.deleting) and selector.matches(pi.labels))


def check(cache: Cache) -> None:
    index = cache.label_index
    for ni in cache.nodes.values():
        assert ni.indexed
        assert ni.label_sets == brute_label_sets(ni), ni.name
    for key in (ZONE, "rack"):
        assert index.topology_counts(key) == brute_topology(cache, key)
    for ns in ("default", "other", "empty"):
        for sel in SELECTORS:
            for terminating in (False, True):
                assert index.matching(ns, sel, terminating=terminating) == brute_matching(cache, ns, sel, terminating)
    present = [ni for ni in cache.nodes.values() if ni.node is not None]
    assert index.present_nodes == len(present)
    for key in (ZONE, "rack", "kubernetes.io/hostname"):
        assert index.nodes_with_label(key) == sum(1 for ni in present if key in ni.labels)
    # A fresh index over the same NodeInfos agrees with the incrementally kept one.
    fresh = LabelSetIndex(cache.nodes)
    for key in (ZONE, "rack"):
        assert fresh.topology_counts(key) == index.topology_counts(key)


def node(i: int, rng: random.Random) -> dict:
    labels = {"rack": f"r{rng.randrange(3)}"} if rng.random() < 0.8 else {}
    return make_node(f"n{i}", zone=rng.choice(["", "a", "b"]), labels=labels)


def test_index_stays_exact_through_pod_and_node_changes():
    rng = random.Random(7)
    cache = Cache()
    for i in range(6):
        cache.add_node(node(i, rng))
    check(cache)  # starts tracking the topology keys, so every later change is applied incrementally
    assumed: list[PodInfo] = []
    bound: list[PodInfo] = []
    for step in range(600):
        r = rng.random()
        if r < 0.3:
            labels = {"app": rng.choice(["web", "db"])}
            if rng.random() < 0.5:
                labels["tier"] = "fe"
            pod = make_pod(f"p{step}", rng.choice(["default", "other"]), labels=labels)
            pi = PodInfo(pod)
            a = pi.with_pod(with_node_name(pod, f"n{rng.randrange(8)}"))  # n6, n7: nodes not (yet) known
            cache.assume_pod(a)
            assumed.append(a)
        elif r < 0.4 and assumed:
            cache.forget_pod(assumed.pop(rng.randrange(len(assumed))))
        elif r < 0.55 and assumed:
            # The binding's echo: possibly on another node, with other labels, or already terminating.
            a = assumed.pop(rng.randrange(len(assumed)))
            pod = with_node_name(a.pod, rng.choice([a.node_name, f"n{rng.randrange(8)}"]))
            md = dict(pod["metadata"])
            if rng.random() < 0.3:
                md["labels"] = {"app": "web", "tier": "be"}
            if rng.random() < 0.2:
                md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
            pod["metadata"] = md
            confirmed = a.with_pod(pod) if rng.random() < 0.5 else PodInfo(pod)
            cache.add_pod(confirmed)
            bound.append(confirmed)
        elif r < 0.65 and bound:
            old = bound.pop(rng.randrange(len(bound)))
            md = dict(old.pod["metadata"], labels={"app": rng.choice(["web", "db"])})
            new = PodInfo({**old.pod, "metadata": md})
            cache.update_pod(old, new)
            bound.append(new)
        elif r < 0.75 and bound:
            cache.remove_pod(bound.pop(rng.randrange(len(bound))))
        elif r < 0.85:
            cache.update_node(None, node(rng.randrange(8), rng))
        elif r < 0.92:
            cache.remove_node(make_node(f"n{rng.randrange(8)}"))
        else:
            cache.add_node(node(rng.randrange(8), rng))
        if step % 20 == 0:
            check(cache)
    check(cache)


def test_matching_follows_new_and_removed_label_sets():
    cache = Cache()
    cache.add_node(make_node("n"))
    web = selector_from_set({"app": "web"})
    assert cache.snapshot.matching_label_sets("default", web) == frozenset()
    p1 = PodInfo(make_pod("p1", labels={"app": "web"}, node_name="n"))
    cache.add_pod(p1)
    assert cache.snapshot.matching_label_sets("default", web) == {p1.label_set}
    p2 = PodInfo(make_pod("p2", labels={"app": "web"}, node_name="n"))
    cache.add_pod(p2)  # same label set: one key, counted twice
    assert cache.nodes["n"].label_sets == {p1.label_set: 2}
    cache.remove_pod(p1)
    assert cache.snapshot.matching_label_sets("default", web) == {p1.label_set}
    cache.remove_pod(p2)
    assert cache.snapshot.matching_label_sets("default", web) == frozenset()
    assert cache.nodes["n"].label_sets == {}


def test_terminating_pods_form_their_own_label_set():
    pod = make_pod("p", labels={"app": "web"}, node_name="n")
    live = PodInfo(pod)
    pod2 = {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    deleting = live.with_pod(pod2)
    assert live.label_set != deleting.label_set and deleting.label_set[2] is True
    cache = Cache()
    cache.add_node(make_node("n"))
    cache.add_pod(deleting)
    web = selector_from_set({"app": "web"})
    assert cache.snapshot.matching_label_sets("default", web) == frozenset()
    assert cache.snapshot.matching_label_sets("default", web, terminating=True) == {deleting.label_set}


def test_with_pod_reads_new_labels():
    pi = PodInfo(make_pod("p", labels={"app": "a"}))
    same = pi.with_pod(with_node_name(pi.pod, "n"))
    assert same.label_set is pi.label_set and same.node_name == "n"
    relabelled = pi.with_pod({**pi.pod, "metadata": {**pi.pod["metadata"], "labels": {"app": "b"}}})
    assert relabelled.labels == {"app": "b"} and relabelled.label_set == label_set_key("default", {"app": "b"}, False)


def test_count_label_sets_and_clone():
    ni = NodeInfo(make_node("n"))
    pods = [PodInfo(make_pod(f"p{i}", labels={"app": "web" if i % 3 else "db"})) for i in range(9)]
    for p in pods:
        ni.add_pod(p)
    web, db = pods[1].label_set, pods[0].label_set
    assert ni.count_label_sets({web}) == 6 and ni.count_label_sets({web, db}) == 9
    assert ni.count_label_sets({web, db, label_set_key("x", {}, False)}) == 9
    clone = ni.clone()
    assert not clone.indexed
    clone.remove_pod(pods[0])
    assert clone.count_label_sets({db}) == 2 and ni.count_label_sets({db}) == 3
    assert ni.remove_pod(pods[0]) is pods[0] and ni.remove_pod(pods[0]) is None


def test_node_update_keeps_its_place_in_the_node_order():
    cache = Cache()
    for name, zone in [("a1", "a"), ("b1", "b"), ("a2", "a")]:
        cache.add_node(make_node(name, zone=zone))
    order = [n.name for n in cache.node_list()]
    cache.update_node(None, make_node("a1", zone="a", labels={"x": "y"}))
    assert [n.name for n in cache.node_list()] == order
    assert cache.nodes["a1"].labels["x"] == "y"
    cache.update_node(None, make_node("a1", zone="b"))  # a zone change moves it
    assert [n.name for n in cache.node_list()] == ["a2", "b1", "a1"]
