"""The cronjob controller against the fakes: Jobs per activation, concurrency policies, status, history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyk8s.api import meta
from pyk8s.client.interface import Obj
from pyk8s.client.kinds import CRON_JOBS, JOBS
from pyk8s.controllers.cronjob import DESCRIPTOR
from pyk8s.controllers.cronjob.controller import CronJobController
from tests.unit.controllers.harness import Harness

NS = "cron"
FIRST = "hello-29453765"  # the activation at 2026-01-01T00:05:00Z, in minutes since the epoch
SECOND = "hello-29453770"  # 00:10


def new_cronjob(name: str = "hello", **spec: Any) -> Obj:
    body: Obj = {
        "schedule": "*/5 * * * *", "concurrencyPolicy": "Allow", "suspend": False,
        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
        "jobTemplate": {"metadata": {"labels": {"app": "hello"}, "annotations": {"team": "batch"}},
                        "spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                                                       "containers": [{"name": "c", "image": "busybox"}]}}}},
    }
    body.update(spec)
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": NS}, "spec": body}


@pytest.fixture
async def env() -> AsyncIterator[tuple[Harness, CronJobController]]:
    h = Harness()
    ctrl = CronJobController(h.ctx)
    await h.start()
    yield h, ctrl
    await h.stop()


async def sync(h: Harness, ctrl: CronJobController, name: str = "hello") -> Any:
    await h.settle()
    return await ctrl.reconcile(f"{NS}/{name}")


def status(h: Harness, name: str = "hello") -> Obj:
    cj = h.get(CRON_JOBS, name, NS)
    assert cj is not None
    return dict(cj.get("status") or {})


def jobs(h: Harness) -> list[str]:
    return [meta.name_of(j) for j in h.client.objects(JOBS, NS)]


async def finish(h: Harness, name: str, kind: str = "Complete", start: str = "2026-01-01T00:05:00Z",
                 done: str = "2026-01-01T00:06:00Z") -> None:
    job = h.get(JOBS, name, NS)
    assert job is not None
    job["status"] = {"startTime": start, "conditions": [{"type": kind, "status": "True", "lastTransitionTime": done}]}
    if kind == "Complete":
        job["status"]["completionTime"] = done
    await h.client.update(JOBS, job, subresource="status")


def test_descriptor() -> None:
    assert DESCRIPTOR.name == "cronjob" and DESCRIPTOR.new is CronJobController


async def test_creates_a_job_per_activation(env: tuple[Harness, CronJobController]) -> None:
    h, ctrl = env
    cronjob = h.client.seed(CRON_JOBS, new_cronjob())  # created at 2026-01-01T00:00:00Z
    result = await sync(h, ctrl)
    assert jobs(h) == [] and result.requeue_after == pytest.approx(300.1)

    h.clock.step(300)
    result = await sync(h, ctrl)
    assert jobs(h) == [FIRST]
    job = h.get(JOBS, FIRST, NS)
    assert job is not None
    assert job["metadata"]["labels"] == {"app": "hello"}
    assert job["metadata"]["annotations"] == {"team": "batch",
                                              "batch.kubernetes.io/cronjob-scheduled-timestamp": "2026-01-01T00:05:00Z"}
    assert job["metadata"]["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "hello",
                                                   "uid": cronjob["metadata"]["uid"], "controller": True,
                                                   "blockOwnerDeletion": True}]
    assert job["spec"] == new_cronjob()["spec"]["jobTemplate"]["spec"]
    st = status(h)
    assert st["lastScheduleTime"] == "2026-01-01T00:05:00Z"
    assert st["active"] == [{"kind": "Job", "namespace": NS, "name": FIRST, "uid": job["metadata"]["uid"],
                             "apiVersion": "batch/v1", "resourceVersion": job["metadata"]["resourceVersion"]}]
    assert result.requeue_after == pytest.approx(300.1)
    assert ("Normal", "SuccessfulCreate", f"Created job {FIRST}") in await h.events()

    # A repeated sync in the same minute creates nothing more.
    await sync(h, ctrl)
    assert jobs(h) == [FIRST]

    await finish(h, FIRST)
    await sync(h, ctrl)
    st = status(h)
    assert "active" not in st
    assert st["lastSuccessfulTime"] == "2026-01-01T00:06:00Z"
    assert ("Normal", "SawCompletedJob", f"Saw completed job: {FIRST}, condition: Complete") in await h.events()


async def test_time_zone(env: tuple[Harness, CronJobController]) -> None:
    h, ctrl = env
    h.client.seed(CRON_JOBS, new_cronjob(schedule="30 1 * * *", timeZone="Europe/Berlin"))
    result = await sync(h, ctrl)
    assert result.requeue_after == pytest.approx(1800.1), "01:30 in Berlin is 00:30 UTC"
    h.clock.step(1800)
    result = await sync(h, ctrl)
    (job,) = h.client.objects(JOBS, NS)
    assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == (
        "2026-01-01T01:30:00+01:00")
    assert status(h)["lastScheduleTime"] == "2026-01-01T00:30:00Z"
    assert result.requeue_after == pytest.approx(86400.1)


async def test_concurrency_policies(env: tuple[Harness, CronJobController]) -> None:
    h, ctrl = env
    h.client.seed(CRON_JOBS, new_cronjob(name="allow"))
    h.client.seed(CRON_JOBS, new_cronjob(name="forbid", concurrencyPolicy="Forbid"))
    h.client.seed(CRON_JOBS, new_cronjob(name="replace", concurrencyPolicy="Replace"))
    h.clock.step(300)
    for name in ("allow", "forbid", "replace"):
        await sync(h, ctrl, name)
    h.clock.step(300)  # 00:10 with every 00:05 Job still running
    for name in ("allow", "forbid", "replace"):
        await sync(h, ctrl, name)

    assert sorted(jobs(h)) == ["allow-29453765", "allow-29453770", "forbid-29453765", "replace-29453770"]
    assert [a["name"] for a in status(h, "allow")["active"]] == ["allow-29453765", "allow-29453770"]
    assert [a["name"] for a in status(h, "forbid")["active"]] == ["forbid-29453765"]
    assert [a["name"] for a in status(h, "replace")["active"]] == ["replace-29453770"]
    events = await h.events()
    assert ("Normal", "JobAlreadyActive",
            "Not starting job because prior execution is running and concurrency policy is Forbid") in events
    assert ("Normal", "SuccessfulDelete", "Deleted job replace-29453765") in events
    (delete,) = h.actions("delete", "jobs")
    assert delete.body["propagationPolicy"] == "Background"


async def test_suspended_cronjob_does_nothing(env: tuple[Harness, CronJobController]) -> None:
    h, ctrl = env
    h.client.seed(CRON_JOBS, new_cronjob(suspend=True))
    h.clock.step(3600)
    assert await sync(h, ctrl) is None
    assert jobs(h) == []


async def test_too_many_missed_start_times_still_starts_the_latest(env: tuple[Harness, CronJobController]) -> None:
    h, ctrl = env
    h.client.seed(CRON_JOBS, new_cronjob(schedule="* * * * *"))
    h.clock.step(200 * 60 + 30)
    await sync(h, ctrl)
    assert jobs(h) == ["hello-29453960"]  # 03:20, the latest activation
    events = await h.events()
    assert ("Warning", "TooManyMissedTimes", "too many missed start times. Set or decrease "
            ".spec.startingDeadlineSeconds or check clock skew") in events


async def test_starting_deadline_skips_old_activations(env: tuple[Harness, CronJobController]) -> None:
    h, ctrl = env
    h.client.seed(CRON_JOBS, new_cronjob(schedule="0 * * * *", startingDeadlineSeconds=60))
    h.clock.step(3600 + 120)  # the 01:00 activation is two minutes old: too late
    result = await sync(h, ctrl)
    assert jobs(h) == []
    assert result.requeue_after == pytest.approx(3600 - 120 + 0.1)


async def test_history_limits(env: tuple[Harness, CronJobController]) -> None:
    h, ctrl = env
    cronjob = h.client.seed(CRON_JOBS, new_cronjob(suspend=True, successfulJobsHistoryLimit=2,
                                                   failedJobsHistoryLimit=1))
    owner = [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "hello", "uid": cronjob["metadata"]["uid"],
              "controller": True}]
    for i, kind in enumerate(["Complete", "Complete", "Failed", "Complete", "Failed"]):
        h.client.seed(JOBS, {"metadata": {"name": f"hello-{i}", "namespace": NS, "ownerReferences": owner},
                             "spec": {}, "status": {"startTime": f"2026-01-01T00:0{i}:00Z", "conditions": [
                                 {"type": kind, "status": "True"}]}})
    h.client.seed(JOBS, {"metadata": {"name": "unowned", "namespace": NS}, "spec": {},
                         "status": {"conditions": [{"type": "Complete", "status": "True"}]}})
    await sync(h, ctrl)
    assert sorted(jobs(h)) == ["hello-1", "hello-3", "hello-4", "unowned"]
    events = await h.events()
    assert ("Normal", "SuccessfulDelete", "Deleted job hello-0") in events
    assert ("Normal", "SuccessfulDelete", "Deleted job hello-2") in events


async def test_missing_active_job_is_dropped(env: tuple[Harness, CronJobController]) -> None:
    h, ctrl = env
    cj = new_cronjob(suspend=True)
    cj["status"] = {"active": [{"kind": "Job", "namespace": NS, "name": "gone", "uid": "u-1",
                                "apiVersion": "batch/v1"}]}
    h.client.seed(CRON_JOBS, cj)
    await sync(h, ctrl)
    assert "active" not in status(h)
    assert ("Normal", "MissingJob", "Active job went missing: gone") in await h.events()


async def test_unknown_time_zone_is_reported(env: tuple[Harness, CronJobController]) -> None:
    h, ctrl = env
    h.client.seed(CRON_JOBS, new_cronjob(timeZone="Mars/Olympus"))
    h.clock.step(600)
    assert await sync(h, ctrl) is None
    assert jobs(h) == []
    assert ("Warning", "UnknownTimeZone", 'invalid timeZone: "Mars/Olympus": unknown time zone Mars/Olympus') in (
        await h.events())
