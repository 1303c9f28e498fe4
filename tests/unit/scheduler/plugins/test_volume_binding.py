import pytest

from pyk8s.client.fake import FakeClient
from pyk8s.client.kinds import PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, SERVICES
from pyk8s.scheduler.framework.interface import Code, CycleState
from pyk8s.scheduler.framework.types import PodInfo
from pyk8s.scheduler.plugins import volume_binding
from pyk8s.scheduler.plugins.volume_binding import (
    ERR_REASON_BIND_CONFLICT,
    ERR_REASON_NODE_CONFLICT,
    ERR_REASON_PV_NOT_EXIST,
    ERR_UNBOUND_IMMEDIATE,
    VolumeBinding,
)
from tests.unit.scheduler.helpers import DictLister, build_cache, framework, make_node, make_pod


def pvc(name, volume="", sc="", deleting=False, size="1Gi"):
    md = {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "1"}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if volume:
        spec["volumeName"] = volume
    if sc:
        spec["storageClassName"] = sc
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": md, "spec": spec}


def pv(name, zone="", sc="", size="1Gi"):
    spec = {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"]}
    if sc:
        spec["storageClassName"] = sc
    if zone:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "zone", "operator": "In", "values": [zone]}]}]}}
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name}, "spec": spec,
            "status": {"phase": "Available"}}


def pod_with(*claims):
    return make_pod("p", spec={"volumes": [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]})


def plugin(pvcs=(), pvs=(), extra=None, client=None):
    cache = build_cache([make_node("a", labels={"zone": "a"}), make_node("b", labels={"zone": "b"})])
    listers = {PERSISTENT_VOLUME_CLAIMS: DictLister(pvcs), PERSISTENT_VOLUMES: DictLister(pvs), **(extra or {})}
    return cache, VolumeBinding(framework(cache, plugins=[], listers=listers, client=client))


def test_pod_without_claims_skips():
    _, pl = plugin()
    _, s = pl.pre_filter(CycleState(), PodInfo(make_pod("p")), [])
    assert s is not None and s.is_skip()


def test_missing_claim():
    _, pl = plugin()
    _, s = pl.pre_filter(CycleState(), PodInfo(pod_with("data")), [])
    assert s is not None and s.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert s.message() == 'persistentvolumeclaim "data" not found'


def test_deleting_claim():
    _, pl = plugin([pvc("data", deleting=True)])
    _, s = pl.pre_filter(CycleState(), PodInfo(pod_with("data")), [])
    assert s is not None and s.message() == 'persistentvolumeclaim "data" is being deleted'


def test_unbound_immediate_claim():
    _, pl = plugin([pvc("data")])
    _, s = pl.pre_filter(CycleState(), PodInfo(pod_with("data")), [])
    assert s is not None and s.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE and s.message() == ERR_UNBOUND_IMMEDIATE
    assert ERR_UNBOUND_IMMEDIATE == "pod has unbound immediate PersistentVolumeClaims"


def test_bound_volume_node_affinity():
    cache, pl = plugin([pvc("data", volume="pv1"), pvc("gone", volume="missing")], [pv("pv1", zone="a")])
    state = CycleState()
    pod = PodInfo(pod_with("data"))
    _, s = pl.pre_filter(state, pod, [])
    assert s is None
    assert pl.filter(state, pod, cache.nodes["a"]) is None
    s = pl.filter(state, pod, cache.nodes["b"])
    assert s is not None and s.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE and s.message() == ERR_REASON_NODE_CONFLICT
    state = CycleState()
    pod = PodInfo(pod_with("gone"))
    pl.pre_filter(state, pod, [])
    s = pl.filter(state, pod, cache.nodes["a"])
    assert s is not None and s.message() == ERR_REASON_PV_NOT_EXIST


@pytest.fixture
def storage_classes(monkeypatch):
    # StorageClasses may not be served by this apiserver build: stand in any Resource as their lister key.
    monkeypatch.setattr(volume_binding, "STORAGE_CLASSES", SERVICES)
    return SERVICES


async def test_wait_for_first_consumer_static_and_provisioned(storage_classes):
    fake = FakeClient()
    claim = await fake.create(PERSISTENT_VOLUME_CLAIMS, pvc("data", sc="local"))
    volume = await fake.create(PERSISTENT_VOLUMES, pv("pv-b", zone="b", sc="local"))
    classes = DictLister([{"metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner",
                           "volumeBindingMode": "WaitForFirstConsumer"}])
    cache, pl = plugin([claim], [volume], {storage_classes: classes}, client=fake)
    pod = PodInfo(pod_with("data"))
    state = CycleState()
    _, s = pl.pre_filter(state, pod, [])
    assert s is None
    s = pl.filter(state, pod, cache.nodes["a"])
    assert s is not None and s.message() == ERR_REASON_BIND_CONFLICT
    assert pl.filter(state, pod, cache.nodes["b"]) is None
    assert pl.reserve(state, pod, "b") is None
    assert await pl.pre_bind(state, pod, "b") is None
    bound = await fake.get(PERSISTENT_VOLUMES, "pv-b")
    assert bound["spec"]["claimRef"]["name"] == "data" and bound["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]

    dynamic = DictLister([{"metadata": {"name": "local"}, "provisioner": "csi.example.com",
                           "volumeBindingMode": "WaitForFirstConsumer"}])
    cache, pl = plugin([claim], [], {storage_classes: dynamic}, client=fake)
    state = CycleState()
    pl.pre_filter(state, pod, [])
    assert pl.filter(state, pod, cache.nodes["a"]) is None
    assert pl.reserve(state, pod, "a") is None
    assert await pl.pre_bind(state, pod, "a") is None
    got = await fake.get(PERSISTENT_VOLUME_CLAIMS, "data", "default")
    assert got["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == "a"
