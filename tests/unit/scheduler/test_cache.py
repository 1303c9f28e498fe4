import pytest

from pyk8s.base.clock import FakeClock
from pyk8s.scheduler.cache import Cache, CacheError
from pyk8s.scheduler.framework.types import PodInfo
from pyk8s.scheduler.schedule_one import with_node_name
from tests.unit.scheduler.helpers import make_node, make_pod


def test_node_order_interleaves_zones():
    cache = Cache()
    for name, zone in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"), ("c1", "c"), ("c2", "c")]:
        cache.add_node(make_node(name, zone=zone))
    assert [n.name for n in cache.node_list()] == ["a1", "b1", "c1", "a2", "c2", "a3"]
    cache.remove_node(make_node("b1", zone="b"))
    assert [n.name for n in cache.node_list()] == ["a1", "c1", "a2", "c2", "a3"]
    assert cache.snapshot.num_nodes() == 5


def test_assume_confirm_and_forget():
    cache = Cache()
    cache.add_node(make_node("n"))
    pod = PodInfo(make_pod("p", cpu="1"))
    assumed = pod.with_pod(with_node_name(pod.pod, "n"))
    cache.assume_pod(assumed)
    assert cache.is_assumed(pod.uid_key) and cache.nodes["n"].req_cpu == 1000
    with pytest.raises(CacheError):
        cache.assume_pod(assumed)
    cache.forget_pod(assumed)
    assert not cache.is_assumed(pod.uid_key) and cache.nodes["n"].req_cpu == 0
    cache.assume_pod(assumed)
    cache.add_pod(PodInfo(with_node_name(pod.pod, "n")))  # the informer's echo of the binding
    assert not cache.is_assumed(pod.uid_key) and cache.nodes["n"].req_cpu == 1000 and cache.pod_count() == 1
    cache.forget_pod(assumed)  # confirmed pods are not forgotten
    assert cache.nodes["n"].req_cpu == 1000


def test_confirmation_on_another_node_moves_the_pod():
    cache = Cache()
    cache.add_node(make_node("a"))
    cache.add_node(make_node("b"))
    pod = PodInfo(make_pod("p", cpu="1"))
    cache.assume_pod(pod.with_pod(with_node_name(pod.pod, "a")))
    cache.add_pod(PodInfo(with_node_name(pod.pod, "b")))
    assert cache.nodes["a"].req_cpu == 0 and cache.nodes["b"].req_cpu == 1000


def test_assumed_pod_expires_after_binding_finished():
    clock = FakeClock()
    cache = Cache(clock=clock, assumed_pod_ttl=30)
    cache.add_node(make_node("n"))
    pod = PodInfo(make_pod("p", cpu="1"))
    assumed = pod.with_pod(with_node_name(pod.pod, "n"))
    cache.assume_pod(assumed)
    clock.step(60)
    assert cache.cleanup_expired_assumed_pods() == []  # binding not finished yet
    cache.finish_binding(assumed)
    clock.step(29)
    assert cache.cleanup_expired_assumed_pods() == []
    clock.step(2)
    assert [p.key for p in cache.cleanup_expired_assumed_pods()] == ["default/p"]
    assert cache.nodes["n"].req_cpu == 0


def test_pods_before_their_node_and_node_removal_with_pods():
    cache = Cache()
    cache.add_pod(PodInfo(make_pod("p", cpu="1", node_name="late")))
    assert cache.node_list() == []  # no Node object yet
    cache.add_node(make_node("late"))
    assert cache.nodes["late"].req_cpu == 1000 and [n.name for n in cache.node_list()] == ["late"]
    cache.remove_node(make_node("late"))
    assert cache.node_list() == [] and "late" in cache.nodes
    cache.remove_pod(PodInfo(make_pod("p", cpu="1", node_name="late")))
    assert "late" not in cache.nodes


def test_image_states_and_affinity_tracking():
    cache = Cache()
    images = [{"names": ["nginx:1"], "sizeBytes": 100}]
    cache.add_node(make_node("a", images=images))
    cache.add_node(make_node("b", images=images))
    assert cache.image_states["nginx:1"].num_nodes == 2
    cache.remove_node(make_node("b"))
    assert cache.nodes["a"].image_states["nginx:1"].num_nodes == 1
    anti = make_pod("x", node_name="a", spec={"affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {}, "topologyKey": "k"}]}}})
    cache.add_pod(PodInfo(anti))
    assert [n.name for n in cache.snapshot.have_pods_with_required_anti_affinity()] == ["a"]
    cache.remove_pod(PodInfo(anti))
    assert cache.snapshot.have_pods_with_affinity() == []
