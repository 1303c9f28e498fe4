"""ttl-after-finished: a finished Job is deleted ttlSecondsAfterFinished after it finished, not before."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pyk8s.client.interface import Obj
from pyk8s.client.kinds import JOBS
from pyk8s.controllers.ttlafterfinished import DESCRIPTOR
from pyk8s.controllers.ttlafterfinished.controller import TTLAfterFinishedController, time_left
from tests.unit.controllers.harness import Harness

NS = "batch"


def finished_job(name: str, ttl: int | None, finished_at: str = "2026-01-01T00:00:00Z", kind: str = "Complete") -> Obj:
    spec: Obj = {"template": {"spec": {"containers": []}}}
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": NS}, "spec": spec,
            "status": {"conditions": [{"type": kind, "status": "True", "lastTransitionTime": finished_at}]}}


@pytest.fixture
async def env() -> AsyncIterator[tuple[Harness, TTLAfterFinishedController]]:
    h = Harness()
    ctrl = TTLAfterFinishedController(h.ctx)
    await h.start()
    yield h, ctrl
    await h.stop()


def test_descriptor_and_time_left() -> None:
    import datetime

    assert DESCRIPTOR.name == "ttl-after-finished"
    now = datetime.datetime(2026, 1, 1, 0, 0, 30, tzinfo=datetime.UTC)
    assert time_left(finished_job("j", 100), now) == 70.0
    assert time_left(finished_job("j", 0, kind="Failed"), now) == -30.0


async def test_deletes_after_ttl_with_foreground_and_uid_precondition(
        env: tuple[Harness, TTLAfterFinishedController]) -> None:
    h, ctrl = env
    job = h.client.seed(JOBS, finished_job("done", 100))
    await h.settle()
    result = await ctrl.reconcile(f"{NS}/done")
    assert result is not None and result.requeue_after == pytest.approx(100.0)
    assert h.actions("delete", "jobs") == []

    h.clock.step(100)
    assert await ctrl.reconcile(f"{NS}/done") is None
    (delete,) = h.actions("delete", "jobs")
    assert delete.name == "done"
    assert delete.body["propagationPolicy"] == "Foreground"
    assert delete.body["preconditions"] == {"uid": job["metadata"]["uid"]}


async def test_ignores_unfinished_jobs_and_jobs_without_ttl(env: tuple[Harness, TTLAfterFinishedController]) -> None:
    h, ctrl = env
    h.client.seed(JOBS, finished_job("keep", None))
    running = finished_job("running", 0)
    running["status"] = {}
    h.client.seed(JOBS, running)
    await h.settle()
    h.clock.step(1000)
    assert await ctrl.reconcile(f"{NS}/keep") is None
    assert await ctrl.reconcile(f"{NS}/running") is None
    assert h.actions("delete", "jobs") == []


async def test_a_ttl_raised_since_caching_is_honoured(env: tuple[Harness, TTLAfterFinishedController]) -> None:
    h, ctrl = env
    h.client.seed(JOBS, finished_job("raised", 10))
    await h.settle()
    h.clock.step(10)
    # The live object now says 60s: the cached 10s must not win.
    h.client.seed(JOBS, finished_job("raised", 60))
    result = await ctrl.reconcile(f"{NS}/raised")
    assert h.actions("delete", "jobs") == []
    assert result is not None and result.requeue_after == pytest.approx(50.0)
