from pyk8s.scheduler.framework.interface import Code, CycleState, QueueingHint
from pyk8s.scheduler.framework.types import PodInfo
from pyk8s.scheduler.plugins.node_resources_fit import NodeResourcesFit
from tests.unit.scheduler.helpers import make_node, make_pod, node_info, run_filter


def fit(pod, node):
    return run_filter(NodeResourcesFit({}), pod, node)


def test_fits_and_insufficient_cpu_memory():
    node = node_info(make_node("n", cpu="2", memory="4Gi"), [make_pod("a", cpu="1500m", memory="1Gi", node_name="n")])
    assert fit(make_pod("p", cpu="500m", memory="3Gi"), node) is None
    s = fit(make_pod("p", cpu="600m", memory="3Gi"), node)
    assert s is not None and s.code is Code.UNSCHEDULABLE and s.reasons == ("Insufficient cpu",)
    s = fit(make_pod("p", cpu="600m", memory="4Gi"), node)
    assert s is not None and s.reasons == ("Insufficient cpu", "Insufficient memory")


def test_request_larger_than_node_is_unresolvable():
    s = fit(make_pod("p", cpu="3"), node_info(make_node("n", cpu="2")))
    assert s is not None and s.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE and s.reasons == ("Insufficient cpu",)


def test_too_many_pods():
    node = node_info(make_node("n", pods=1), [make_pod("a", node_name="n")])
    s = fit(make_pod("p", cpu=None, memory=None), node)
    assert s is not None and s.reasons == ("Too many pods",) and s.code is Code.UNSCHEDULABLE


def test_init_containers_take_max_and_overhead_adds():
    # max(sum(app)=1 CPU, largest init=2.5 CPU) + overhead 500m = 3 CPU
    pod = make_pod("p", cpu="500m", spec={
        "containers": [{"name": "a", "image": "x", "resources": {"requests": {"cpu": "500m"}}},
                       {"name": "b", "image": "x", "resources": {"requests": {"cpu": "500m"}}}],
        "initContainers": [{"name": "i1", "image": "x", "resources": {"requests": {"cpu": "2500m"}}},
                           {"name": "i2", "image": "x", "resources": {"requests": {"cpu": "1"}}}],
        "overhead": {"cpu": "500m"}})
    assert PodInfo(pod).requests.milli_cpu == 3000
    assert fit(pod, node_info(make_node("n", cpu="3"))) is None
    assert fit(pod, node_info(make_node("n", cpu="2900m"))) is not None


def test_ephemeral_storage_and_extended_resources():
    pod = make_pod("p", spec={"containers": [{"name": "a", "image": "x", "resources": {"requests": {
        "ephemeral-storage": "2Gi", "example.com/gpu": "1"}}}]})
    node = node_info(make_node("n"))
    s = fit(pod, node)
    assert s is not None and s.reasons == ("Insufficient ephemeral-storage", "Insufficient example.com/gpu")
    rich = make_node("r")
    rich["status"]["allocatable"].update({"ephemeral-storage": "10Gi", "example.com/gpu": "2"})
    assert fit(pod, node_info(rich)) is None


def test_batch_filter_agrees_with_per_node():
    pl = NodeResourcesFit({})
    nodes = [node_info(make_node(f"n{i}", cpu=str(i))) for i in range(4)]
    pod = PodInfo(make_pod("p", cpu="2"))
    state = CycleState()
    batch = pl.filter_nodes(state, pod, nodes)
    single = [(i, s) for i, ni in enumerate(nodes) if (s := pl.filter(state, pod, ni)) is not None]
    assert [(i, s.reasons, s.code) for i, s in batch] == [(i, s.reasons, s.code) for i, s in single]
    assert [i for i, _ in batch] == [0, 1]


def test_least_allocated_score_uses_non_zero_defaults():
    pl = NodeResourcesFit({})
    empty = node_info(make_node("a", cpu="1", memory="1Gi"))
    busy = node_info(make_node("b", cpu="1", memory="1Gi"), [make_pod("x", cpu="500m", memory="512Mi", node_name="b")])
    pod = PodInfo(make_pod("p", cpu=None, memory=None))  # counts 100m / 200Mi for scoring
    scores, s = pl.score(CycleState(), pod, [empty, busy])
    assert s is None
    # cpu: (1000-100)*100/1000 = 90; memory: (1024-200)*100/1024 = 80 -> 85
    # busy: cpu (1000-600)*100/1000 = 40; memory (1024-712)*100/1024 = 30 -> 35
    assert scores == [85, 35]
    # memoized path returns the same and notices node changes
    assert pl.score(CycleState(), pod, [empty, busy])[0] == [85, 35]
    empty.add_pod(PodInfo(make_pod("y", cpu="400m", memory="512Mi", node_name="a")))
    assert pl.score(CycleState(), pod, [empty, busy])[0] == [40, 35]


def test_most_allocated_strategy():
    pl = NodeResourcesFit({"scoringStrategy": {"type": "MostAllocated",
                                               "resources": [{"name": "cpu", "weight": 1}]}})
    busy = node_info(make_node("b", cpu="1"), [make_pod("x", cpu="500m", node_name="b")])
    scores, _ = pl.score(CycleState(), PodInfo(make_pod("p", cpu="100m")), [node_info(make_node("a", cpu="1")), busy])
    assert scores == [10, 60]


def test_node_event_hint_queues_only_for_nodes_that_could_fit():
    pod = PodInfo(make_pod("p", cpu="4"))
    assert NodeResourcesFit._node_hint(pod, None, make_node("small", cpu="2")) is QueueingHint.QUEUE_SKIP
    assert NodeResourcesFit._node_hint(pod, None, make_node("large", cpu="8")) is QueueingHint.QUEUE
