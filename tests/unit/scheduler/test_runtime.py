import asyncio
from typing import Any

import pytest

from pyk8s.base.clock import FakeClock
from pyk8s.scheduler.framework.interface import Code, CycleState, PreFilterResult, SchedulingError, Status
from pyk8s.scheduler.framework.runtime import DEFAULT_PLUGINS, Framework, PluginSpec, Profile, Registry
from pyk8s.scheduler.framework.types import PodInfo
from tests.unit.scheduler.helpers import build_cache, make_node, make_pod


class Recorder:
    def __init__(self, name, calls, *, pre=None, filt=None, score=None, permit=None, names=None):
        self.name = name
        self.calls = calls
        self._pre = pre
        self._filt = filt
        self._score = score
        self._permit = permit
        self._names = names

    def pre_filter(self, state, pod, nodes):
        self.calls.append((self.name, "pre_filter"))
        return (PreFilterResult(frozenset(self._names)) if self._names is not None else None), self._pre

    def pre_filter_extensions(self):
        return None

    def filter(self, state, pod, node):
        self.calls.append((self.name, "filter", node.name))
        return self._filt(node) if self._filt else None

    def score(self, state, pod, nodes):
        return [self._score(n) for n in nodes], None

    def score_extensions(self):
        return None

    def permit(self, state, pod, node_name):
        return self._permit


def _constant_factory(plugin: Any) -> Any:
    return lambda args, handle: plugin


def make_framework(specs, plugins, clock=None):
    cache = build_cache([make_node("a"), make_node("b")])
    registry: Registry = {p.name: _constant_factory(p) for p in plugins}
    fwk = Framework(Profile(plugins=specs), registry, client=None, snapshot=cache.snapshot,  # type: ignore[arg-type]
                    clock=clock or FakeClock())
    return fwk, cache.node_list()


def test_default_profile_weights_match_upstream():
    weights = {p.name: p.weight for p in DEFAULT_PLUGINS if p.weight}
    assert weights == {"TaintToleration": 3, "NodeAffinity": 2, "NodeResourcesFit": 1, "PodTopologySpread": 2,
                       "InterPodAffinity": 2, "NodeResourcesBalancedAllocation": 1, "ImageLocality": 1}


def test_unknown_plugin_is_an_error():
    with pytest.raises(SchedulingError):
        make_framework([PluginSpec("Nope")], [])


def test_skip_at_pre_filter_skips_filter_and_first_failure_wins():
    calls: list[tuple[str, ...]] = []
    skip = Recorder("A", calls, pre=Status(Code.SKIP), filt=lambda n: Status(Code.UNSCHEDULABLE, "A says no"))
    b = Recorder("B", calls, filt=lambda n: Status(Code.UNSCHEDULABLE, "B says no") if n.name == "a" else None)
    c = Recorder("C", calls, filt=lambda n: Status(Code.UNSCHEDULABLE, "C says no"))
    fwk, nodes = make_framework([PluginSpec("A"), PluginSpec("B"), PluginSpec("C")], [skip, b, c])
    state = CycleState()
    pod = PodInfo(make_pod("p"))
    _, s, _ = fwk.run_pre_filter_plugins(state, pod, nodes)
    assert s is None and state.skip_filter_plugins == frozenset({"A"})
    st = fwk.run_filter_plugins(state, pod, nodes[0])
    assert st is not None and st.plugin == "B" and st.message() == "B says no"
    assert ("A", "filter", "a") not in calls and ("C", "filter", "a") not in calls
    st = fwk.run_filter_plugins(state, pod, nodes[1])
    assert st is not None and st.plugin == "C"


def test_filter_error_is_wrapped():
    boom = Recorder("A", [], filt=lambda n: Status(Code.ERROR, "disk on fire"))
    fwk, nodes = make_framework([PluginSpec("A")], [boom])
    state = CycleState()
    fwk.run_pre_filter_plugins(state, PodInfo(make_pod("p")), nodes)
    st = fwk.run_filter_plugins(state, PodInfo(make_pod("p")), nodes[0])
    assert st is not None and st.code is Code.ERROR and st.message() == 'running "A" filter plugin: disk on fire'


def test_pre_filter_results_intersect():
    a = Recorder("A", [], names={"a", "b"})
    b = Recorder("B", [], names={"b"})
    fwk, nodes = make_framework([PluginSpec("A"), PluginSpec("B")], [a, b])
    res, s, plugins = fwk.run_pre_filter_plugins(CycleState(), PodInfo(make_pod("p")), nodes)
    assert s is None and res is not None and res.node_names == frozenset({"b"}) and plugins == {"A", "B"}
    c = Recorder("C", [], names={"a"})
    fwk, nodes = make_framework([PluginSpec("B"), PluginSpec("C")], [Recorder("B", [], names={"b"}), c])
    _, s, _ = fwk.run_pre_filter_plugins(CycleState(), PodInfo(make_pod("p")), nodes)
    assert s is not None and s.message() == "node(s) didn't satisfy plugin(s) [B C] simultaneously"


def test_scores_are_weighted_and_range_checked():
    a = Recorder("A", [], score=lambda n: 10 if n.name == "a" else 20)
    b = Recorder("B", [], score=lambda n: 50)
    fwk, nodes = make_framework([PluginSpec("A", 3), PluginSpec("B", 1)], [a, b])
    state = CycleState()
    pod = PodInfo(make_pod("p"))
    fwk.run_pre_score_plugins(state, pod, nodes)
    totals, s = fwk.run_score_plugins(state, pod, nodes)
    assert s is None and totals == [80, 110]
    bad = Recorder("A", [], score=lambda n: 101)
    fwk, nodes = make_framework([PluginSpec("A", 1)], [bad])
    fwk.run_pre_score_plugins(state, pod, nodes)
    _, s = fwk.run_score_plugins(state, pod, nodes)
    assert s is not None and s.message() == (
        'plugin "A" returns an invalid score 101, it should in the range of [0, 100] after normalizing')


async def test_permit_wait_allow_and_timeout():
    clock = FakeClock()
    waiter = Recorder("W", [], permit=(Status(Code.WAIT), 10.0))
    fwk, _ = make_framework([PluginSpec("W")], [waiter], clock)
    pod = PodInfo(make_pod("p"))
    s = fwk.run_permit_plugins(CycleState(), pod, "a")
    assert s is not None and s.code is Code.WAIT and fwk.will_wait_on_permit(pod)
    waiting = asyncio.ensure_future(fwk.wait_on_permit(pod))
    await asyncio.sleep(0)
    fwk.get_waiting_pod(pod.uid_key).allow("W")
    assert await asyncio.wait_for(waiting, 1) is None
    pod2 = PodInfo(make_pod("q"))
    fwk.run_permit_plugins(CycleState(), pod2, "a")
    waiting = asyncio.ensure_future(fwk.wait_on_permit(pod2))
    for _ in range(3):
        await asyncio.sleep(0)
    clock.step(10)
    s = await asyncio.wait_for(waiting, 1)
    assert s is not None and s.code is Code.UNSCHEDULABLE and s.plugin == "W"
