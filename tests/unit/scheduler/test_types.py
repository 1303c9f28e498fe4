from pyk8s.scheduler.framework.interface import Code, NodeToStatus, Status
from pyk8s.scheduler.framework.types import (
    Diagnosis,
    FitError,
    NodeInfo,
    PodInfo,
    pod_requests,
    resolve_priority,
)
from tests.unit.scheduler.helpers import DictLister, make_node, make_pod


def container(name, **requests):
    return {"name": name, "image": "x", "resources": {"requests": requests}}


def test_requests_sum_containers_and_take_init_max():
    pod = make_pod("p", spec={"containers": [container("a", cpu="1", memory="1G"), container("b", cpu="1", memory="1G")],
                              "initContainers": [container("i1", cpu="2", memory="1G"),
                                                 container("i2", cpu="2", memory="3G")]})
    assert pod_requests(pod) == {"cpu": 2000, "memory": 3_000_000_000}


def test_sidecars_add_up_and_count_for_later_init_containers():
    sidecar = {**container("s", cpu="500m"), "restartPolicy": "Always"}
    pod = make_pod("p", spec={"containers": [container("a", cpu="1")],
                              "initContainers": [sidecar, container("i", cpu="1")]})
    # app 1 + sidecar 0.5 = 1.5; init "i" runs with the sidecar: 1 + 0.5 = 1.5
    assert pod_requests(pod)["cpu"] == 1500


def test_non_zero_defaults_only_for_missing_requests():
    pi = PodInfo(make_pod("p", cpu=None, memory=None))
    assert (pi.non_zero_cpu, pi.non_zero_mem) == (100, 200 * 1024 * 1024)
    explicit_zero = PodInfo(make_pod("q", cpu="0", memory="0"))
    assert (explicit_zero.non_zero_cpu, explicit_zero.non_zero_mem) == (0, 0)


def test_resolve_priority():
    classes = DictLister([{"metadata": {"name": "high"}, "value": 1000},
                          {"metadata": {"name": "default"}, "value": 7, "globalDefault": True}])
    assert resolve_priority(make_pod("a", priority=3), classes) == 3
    assert resolve_priority(make_pod("b", spec={"priorityClassName": "high"}), classes) == 1000
    assert resolve_priority(make_pod("c"), classes) == 7
    assert resolve_priority(make_pod("d"), DictLister()) == 0
    assert resolve_priority(make_pod("e", spec={"priorityClassName": "system-node-critical"}), None) == 2000001000


def test_node_info_incremental_sums():
    ni = NodeInfo(make_node("n", cpu="4", memory="8Gi"))
    a = PodInfo(make_pod("a", cpu="1", memory="1Gi", node_name="n"))
    b = PodInfo(make_pod("b", cpu=None, memory=None, node_name="n"))
    ni.add_pod(a)
    ni.add_pod(b)
    assert (ni.req_cpu, ni.non_zero_cpu, len(ni.pods)) == (1000, 1100, 2)
    gen = ni.generation
    assert ni.remove_pod(a) and not ni.remove_pod(a)
    assert (ni.req_cpu, ni.req_mem, ni.non_zero_cpu) == (0, 0, 100)
    assert ni.generation != gen
    clone = ni.clone()
    clone.remove_pod(b)
    assert len(ni.pods) == 1 and len(clone.pods) == 0


def test_fit_error_message_sorts_reasons_and_counts_absent_nodes():
    d = Diagnosis(NodeToStatus())
    d.node_to_status.set("a", Status(Code.UNSCHEDULABLE, "Insufficient cpu"))
    d.node_to_status.set("b", Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "node(s) had untolerated taint {x: }"))
    d.node_to_status.set("c", Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "node(s) had untolerated taint {x: }"))
    d.node_to_status.set("d", Status(Code.UNSCHEDULABLE, "Insufficient cpu", "Insufficient memory"))
    err = FitError(PodInfo(make_pod("p")), 4, d)
    # Upstream sorts the "<count> <reason>" strings themselves, so counts order before reasons.
    assert str(err) == ("0/4 nodes are available: 1 Insufficient memory, 2 Insufficient cpu, "
                        "2 node(s) had untolerated taint {x: }.")
    d.post_filter_msg = "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
    assert str(err).endswith("{x: }. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.")
    pre = Diagnosis(NodeToStatus())
    pre.pre_filter_msg = 'persistentvolumeclaim "data" not found'
    assert str(FitError(PodInfo(make_pod("p")), 3, pre)) == '0/3 nodes are available: persistentvolumeclaim "data" not found.'
