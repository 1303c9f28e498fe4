from pyk8s.scheduler.framework.interface import Code
from pyk8s.scheduler.framework.types import PodInfo
from pyk8s.scheduler.plugins.scheduling_gates import SchedulingGates
from tests.unit.scheduler.helpers import make_pod


def test_gated_pods_wait():
    gated = PodInfo(make_pod("p", spec={"schedulingGates": [{"name": "a"}, {"name": "b"}]}))
    s = SchedulingGates().pre_enqueue(gated)
    assert s is not None and s.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert s.message() == "waiting for scheduling gates: [a b]"
    assert SchedulingGates().pre_enqueue(PodInfo(make_pod("q"))) is None
