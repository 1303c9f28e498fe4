import random

from pyk8s.client.fake import FakeClient
from pyk8s.client.kinds import PODS
from pyk8s.scheduler.framework.interface import Code, CycleState
from pyk8s.scheduler.framework.types import PodInfo
from pyk8s.scheduler.plugins.default_preemption import (
    Candidate,
    DefaultPreemption,
    filter_pods_with_pdb_violation,
    pick_one_node_for_preemption,
)
from pyk8s.scheduler.schedule_one import SchedulingAlgorithm
from tests.unit.scheduler.helpers import Events, build_cache, framework, make_node, make_pod


def _pick(candidates: list[Candidate]) -> Candidate:
    best = pick_one_node_for_preemption(candidates)
    assert best is not None
    return best

PLUGINS = ["NodeUnschedulable", "TaintToleration", "NodeResourcesFit", "DefaultPreemption"]


async def run_preemption(nodes, existing, preemptor, client=None):
    cache = build_cache(nodes, existing)
    events = Events()
    fwk = framework(cache, plugins=PLUGINS, client=client, events=events)
    pl: DefaultPreemption = fwk.plugins["DefaultPreemption"]
    pl.rng = random.Random(1)
    state = CycleState()
    pi = PodInfo(preemptor)
    algo = SchedulingAlgorithm()
    feasible, diagnosis = algo.find_nodes_that_fit_pod(fwk, state, pi, cache.node_list(), cache.snapshot)
    assert not feasible
    result, status = await fwk.run_post_filter_plugins(state, pi, diagnosis.node_to_status)
    return result, status, events


async def test_evicts_lowest_priority_victims_and_nominates():
    fake = FakeClient()
    low = await fake.create(PODS, make_pod("low", cpu="600m", node_name="n1", priority=1))
    mid = await fake.create(PODS, make_pod("mid", cpu="300m", node_name="n1", priority=5))
    other = await fake.create(PODS, make_pod("busy", cpu="900m", node_name="n2", priority=50))
    preemptor = make_pod("high", cpu="500m", priority=10)
    result, status, events = await run_preemption([make_node("n1", cpu="1"), make_node("n2", cpu="1")],
                                                  [low, mid, other], preemptor, fake)
    assert status.code is Code.SUCCESS
    assert result is not None and result.nominating_info is not None
    assert result.nominating_info.nominated_node_name == "n1"
    # Only "low" must go: with it gone, 300m + 500m fits; "mid" is reprieved.
    deleted = [a.name for a in fake.actions if a.verb == "delete"]
    assert deleted == ["low"]
    patched = [a for a in fake.actions if a.verb == "patch" and a.subresource == "status"]
    cond = patched[0].body["status"]["conditions"][0]
    assert (cond["type"], cond["reason"]) == ("DisruptionTarget", "PreemptionByScheduler")
    assert cond["message"] == "default-scheduler: preempting to accommodate a higher priority pod"
    assert events.items == [("Normal", "Preempted", "default/low", f"Preempted by pod {PodInfo(preemptor).uid} on node n1")]


async def test_not_helpful_when_failures_are_unresolvable():
    taint = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    nodes = [make_node("cp", taints=[taint]), make_node("w", cpu="1")]
    result, status, _ = await run_preemption(nodes, [], make_pod("big", cpu="2", priority=10))
    assert status.code is Code.UNSCHEDULABLE
    assert status.message() == ("preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.")
    assert result is not None and result.nominating_info is not None
    assert result.nominating_info.nominated_node_name == ""


async def test_no_victims_and_policy_never():
    nodes = [make_node("n", cpu="1")]
    existing = [make_pod("same", cpu="800m", node_name="n", priority=10)]
    _, status, _ = await run_preemption(nodes, existing, make_pod("p", cpu="500m", priority=10))
    assert status.message() == "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    never = make_pod("q", cpu="500m", priority=100, spec={"preemptionPolicy": "Never"})
    _, status, _ = await run_preemption(nodes, existing, never)
    assert status.message() == "preemption: not eligible due to preemptionPolicy=Never."


def test_pdb_violation_split():
    pods = [PodInfo(make_pod(f"p{i}", labels={"app": "db"}, node_name="n")) for i in range(3)]
    pdb = {"metadata": {"name": "db", "namespace": "default"}, "spec": {"selector": {"matchLabels": {"app": "db"}}},
           "status": {"disruptionsAllowed": 1}}
    violating, ok = filter_pods_with_pdb_violation(pods, [pdb])
    assert [p.name for p in ok] == ["p0"] and [p.name for p in violating] == ["p1", "p2"]


def test_pick_one_node_order():
    def pod(prio, start="2026-01-01T00:00:00Z"):
        p = make_pod(f"p{prio}{start}", priority=prio)
        p["status"]["startTime"] = start
        return PodInfo(p)

    a = Candidate("a", [pod(5)], 1)
    b = Candidate("b", [pod(9), pod(1)], 0)
    assert _pick([a, b]).name == "b"  # fewer PDB violations first
    c = Candidate("c", [pod(3)], 0)
    assert _pick([b, c]).name == "c"  # lower highest priority
    d = Candidate("d", [pod(3), pod(1)], 0)
    assert _pick([c, d]).name == "c"  # smaller priority sum
    e = Candidate("e", [pod(3, "2026-02-01T00:00:00Z")], 0)
    assert _pick([c, e]).name == "e"  # latest start time
