"""Pod workers: one task per pod, coalesced updates, syncing -> terminating -> terminated."""

from __future__ import annotations

import asyncio
from typing import Any

from pyk8s.base.clock import FakeClock
from pyk8s.kubelet.podworkers import TERMINATED, PodWorkers, SyncOutcome

from .rig import eventually

Obj = dict[str, Any]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.outcome = SyncOutcome()

    async def sync_pod(self, pod: Obj) -> SyncOutcome:
        await self.gate.wait()
        self.calls.append(("sync", pod["metadata"].get("resourceVersion")))
        return self.outcome

    async def sync_terminating_pod(self, pod: Obj, grace: int) -> None:
        self.calls.append(("terminating", grace))

    async def sync_terminated_pod(self, pod: Obj, removed: bool) -> bool:
        self.calls.append(("terminated", removed))
        return True


def pod(rv: str, **md: Any) -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1", "resourceVersion": rv, **md},
            "spec": {"terminationGracePeriodSeconds": 7}}


async def test_updates_coalesce_and_lifecycle() -> None:
    syncer = Recorder()
    workers = PodWorkers(syncer, clock=FakeClock())
    syncer.gate.clear()
    workers.update_pod(pod("1"))
    await asyncio.sleep(0.01)
    workers.update_pod(pod("2"))
    workers.update_pod(pod("3"))
    syncer.gate.set()
    await eventually(lambda: ("sync", "3") in syncer.calls)
    assert ("sync", "2") not in syncer.calls  # coalesced
    workers.update_pod(pod("4", deletionTimestamp="x", deletionGracePeriodSeconds=5))
    await eventually(lambda: ("terminated", False) in syncer.calls)
    assert ("terminating", 5) in syncer.calls and workers.state("u1") == TERMINATED
    workers.update_pod(pod("5", deletionTimestamp="x"), removed=True)
    await eventually(lambda: not workers.known("u1"), what="worker forgotten")
    assert syncer.calls[-1] == ("terminated", True)
    assert [c for c in syncer.calls if c[0] == "terminating"] == [("terminating", 5)]  # killed once
    await workers.stop()


async def test_terminal_outcome_and_resync() -> None:
    clock = FakeClock()
    syncer = Recorder()
    workers = PodWorkers(syncer, clock=clock, resync_interval=60)
    syncer.outcome = SyncOutcome(requeue_after=5)
    workers.update_pod(pod("1"))
    await eventually(lambda: len(syncer.calls) == 1)
    clock.step(5)
    await eventually(lambda: len(syncer.calls) == 2, what="requeue after 5s")
    syncer.outcome = SyncOutcome(terminal=True)
    workers.wake("u1")
    await eventually(lambda: ("terminating", 7) in syncer.calls, what="terminal pod stops")
    await workers.stop()
