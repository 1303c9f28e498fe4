"""The job controller against the fakes: pods from the template, exact counting with the tracking finalizer,
Indexed Jobs, backoffLimit with the pod-failure backoff, activeDeadlineSeconds, suspend, adoption."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyk8s.api import meta
from pyk8s.api.defaults.batch import generate_job_selector
from pyk8s.api.defaults.batch import job as default_job
from pyk8s.client.interface import Obj
from pyk8s.client.kinds import JOBS, PODS
from pyk8s.controllers.job import DESCRIPTOR
from pyk8s.controllers.job.controller import JobController
from pyk8s.controllers.job.pods import TRACKING_FINALIZER
from tests.unit.controllers.harness import Harness

NS = "batch"


def new_job(name: str, **spec: Any) -> Obj:
    """A Job as the apiserver stores it: defaulted, with the generated selector and template labels."""
    job: Obj = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": NS, "uid": meta.new_uid()},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "c", "image": "busybox"}]}}, **spec},
    }
    default_job(job)
    generate_job_selector(job)
    return job


@pytest.fixture
async def env() -> AsyncIterator[tuple[Harness, JobController]]:
    h = Harness(job_sync_batch_period=0)
    ctrl = JobController(h.ctx)
    await h.start()
    yield h, ctrl
    await h.stop()


def job_pods(h: Harness, job_name: str) -> list[Obj]:
    return [p for p in h.client.objects(PODS, NS)
            if (p["metadata"].get("labels") or {}).get("batch.kubernetes.io/job-name") == job_name]


async def set_phase(h: Harness, pod: Obj, phase: str) -> None:
    fresh = h.get(PODS, pod["metadata"]["name"], NS)
    assert fresh is not None
    fresh.setdefault("status", {})["phase"] = phase
    await h.client.update(PODS, fresh, subresource="status")


def job_status(h: Harness, name: str) -> Obj:
    job = h.get(JOBS, name, NS)
    assert job is not None
    return dict(job.get("status") or {})


def condition_types(status: Obj) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c.get("reason", "")) for c in status.get("conditions") or ()]


async def sync(h: Harness, ctrl: JobController, name: str) -> Any:
    await h.settle()
    return await ctrl.reconcile(f"{NS}/{name}")


def test_descriptor() -> None:
    assert DESCRIPTOR.name == "job"
    assert DESCRIPTOR.new is JobController


async def test_completions_with_parallelism_run_to_complete(env: tuple[Harness, JobController]) -> None:
    h, ctrl = env
    h.client.seed(JOBS, new_job("pi", completions=3, parallelism=2))
    await sync(h, ctrl, "pi")

    pods = job_pods(h, "pi")
    assert len(pods) == 2
    job = h.get(JOBS, "pi", NS)
    assert job is not None
    for p in pods:
        md = p["metadata"]
        assert md["generateName"] == "pi-"
        assert TRACKING_FINALIZER in md["finalizers"]
        assert md["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "Job", "name": "pi",
                                          "uid": job["metadata"]["uid"], "controller": True,
                                          "blockOwnerDeletion": True}]
        assert md["labels"]["batch.kubernetes.io/controller-uid"] == job["metadata"]["uid"]
        assert md["labels"]["controller-uid"] == job["metadata"]["uid"]
        assert md["labels"]["job-name"] == "pi"
    status = job_status(h, "pi")
    assert status["active"] == 2
    assert status["ready"] == 0 and status["terminating"] == 0
    assert status["startTime"] == "2026-01-01T00:00:00Z"
    assert status["uncountedTerminatedPods"] == {}

    # One pod succeeds: counted once, its finalizer removed, a replacement created.
    await set_phase(h, pods[0], "Succeeded")
    await sync(h, ctrl, "pi")
    assert job_status(h, "pi")["succeeded"] == 1
    first = h.get(PODS, pods[0]["metadata"]["name"], NS)
    assert first is not None and TRACKING_FINALIZER not in (first["metadata"].get("finalizers") or [])
    assert len(job_pods(h, "pi")) == 3

    for p in job_pods(h, "pi"):
        if (p.get("status") or {}).get("phase") != "Succeeded":
            await set_phase(h, p, "Succeeded")
    await sync(h, ctrl, "pi")

    status = job_status(h, "pi")
    assert status["succeeded"] == 3
    assert "active" not in status
    assert condition_types(status) == [("SuccessCriteriaMet", "True", "CompletionsReached"),
                                       ("Complete", "True", "CompletionsReached")]
    assert status["conditions"][1]["message"] == "Reached expected number of succeeded pods"
    assert status["completionTime"] == "2026-01-01T00:00:00Z"
    assert status["uncountedTerminatedPods"] == {}
    assert all(TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or []) for p in job_pods(h, "pi"))
    events = await h.events()
    assert events.count(("Normal", "SuccessfulCreate", f"Created pod: {pods[0]['metadata']['name']}")) == 1
    assert ("Normal", "Completed", "Job completed") in events
    # Finished: further syncs change nothing.
    h.client.clear_actions()
    await sync(h, ctrl, "pi")
    assert [a for a in h.client.actions if a.verb != "get" and a.resource != "events"] == []


async def test_a_stale_pod_cache_does_not_count_twice(env: tuple[Harness, JobController],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    h, ctrl = env
    h.client.seed(JOBS, new_job("pair", completions=2, parallelism=2))
    await sync(h, ctrl, "pair")
    first = job_pods(h, "pair")[0]
    await set_phase(h, first, "Succeeded")
    await h.settle()
    stale = list(ctrl.pods.lister.list(NS))  # still shows the finalizer on the succeeded pod
    # The pod cache lags: the finalizer removal is not delivered (the Job cache is current).
    monkeypatch.setattr(ctrl.finalizer_expectations, "removal_observed", lambda key, uid: None)
    await ctrl.reconcile(f"{NS}/pair")
    assert job_status(h, "pair")["succeeded"] == 1
    await h.settle()
    monkeypatch.setattr(ctrl.pods.lister, "list", lambda namespace=None: stale)
    await ctrl.reconcile(f"{NS}/pair")
    status = job_status(h, "pair")
    assert status["succeeded"] == 1 and status["uncountedTerminatedPods"] == {}
    assert len(job_pods(h, "pair")) == 2


async def test_uncounted_pods_survive_a_failed_finalizer_removal(env: tuple[Harness, JobController]) -> None:
    h, ctrl = env
    h.client.seed(JOBS, new_job("once", completions=1, parallelism=1))
    await sync(h, ctrl, "once")
    (pod,) = job_pods(h, "once")
    await set_phase(h, pod, "Succeeded")
    from pyk8s.api import errors
    h.client.fail_next("patch", "pods", errors.InternalError("etcd hiccup"))
    await h.settle()
    with pytest.raises(errors.InternalError):
        await ctrl.reconcile(f"{NS}/once")
    status = job_status(h, "once")
    assert status["uncountedTerminatedPods"] == {"succeeded": [pod["metadata"]["uid"]]}
    assert "succeeded" not in status
    # The retry (e.g. after a restart: a new controller, no memory) counts it exactly once.
    await sync(h, ctrl, "once")
    status = job_status(h, "once")
    assert status["succeeded"] == 1
    assert condition_types(status)[-1] == ("Complete", "True", "CompletionsReached")


async def test_indexed_job(env: tuple[Harness, JobController]) -> None:
    h, ctrl = env
    h.client.seed(JOBS, new_job("idx", completions=3, parallelism=3, completionMode="Indexed"))
    await sync(h, ctrl, "idx")
    pods = sorted(job_pods(h, "idx"), key=lambda p: p["metadata"]["annotations"][
        "batch.kubernetes.io/job-completion-index"])
    assert [p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in pods] == ["0", "1", "2"]
    for i, p in enumerate(pods):
        assert p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == str(i)
        assert p["metadata"]["generateName"] == f"idx-{i}-"
        assert p["spec"]["hostname"] == f"idx-{i}"
        assert p["spec"]["containers"][0]["env"] == [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
            "fieldPath": "metadata.labels['batch.kubernetes.io/job-completion-index']"}}}]

    await set_phase(h, pods[1], "Succeeded")
    await sync(h, ctrl, "idx")
    status = job_status(h, "idx")
    assert status["completedIndexes"] == "1" and status["succeeded"] == 1 and status["active"] == 2

    # Index 0 fails: after the backoff its replacement carries the same index.
    await set_phase(h, pods[0], "Failed")
    await sync(h, ctrl, "idx")
    status = job_status(h, "idx")
    assert status["failed"] == 1
    h.clock.step(10)
    await sync(h, ctrl, "idx")
    replacement = [p for p in job_pods(h, "idx") if p["metadata"]["name"] not in {q["metadata"]["name"] for q in pods}]
    assert [p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in replacement] == ["0"]

    for p in [replacement[0], pods[2]]:
        await set_phase(h, p, "Succeeded")
    await sync(h, ctrl, "idx")
    status = job_status(h, "idx")
    assert status["completedIndexes"] == "0-2"
    assert status["succeeded"] == 3
    assert condition_types(status)[-1] == ("Complete", "True", "CompletionsReached")


async def test_backoff_limit_with_pod_failure_backoff(env: tuple[Harness, JobController]) -> None:
    h, ctrl = env
    h.client.seed(JOBS, new_job("flaky", backoffLimit=1))
    await sync(h, ctrl, "flaky")
    (first,) = job_pods(h, "flaky")
    await set_phase(h, first, "Failed")

    result = await sync(h, ctrl, "flaky")
    assert job_status(h, "flaky")["failed"] == 1
    assert len(job_pods(h, "flaky")) == 1, "the replacement waits out the 10s backoff"
    assert result is not None and result.requeue_after == pytest.approx(10.0)

    h.clock.step(10)
    await sync(h, ctrl, "flaky")
    pods = job_pods(h, "flaky")
    assert len(pods) == 2
    (second,) = [p for p in pods if p["metadata"]["name"] != first["metadata"]["name"]]
    await set_phase(h, second, "Failed")
    await sync(h, ctrl, "flaky")

    status = job_status(h, "flaky")
    assert status["failed"] == 2
    assert condition_types(status) == [("FailureTarget", "True", "BackoffLimitExceeded"),
                                       ("Failed", "True", "BackoffLimitExceeded")]
    assert status["conditions"][1]["message"] == "Job has reached the specified backoff limit"
    assert "completionTime" not in status
    assert ("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit") in await h.events()


async def test_active_deadline_deletes_active_pods(env: tuple[Harness, JobController]) -> None:
    h, ctrl = env
    h.client.seed(JOBS, new_job("slow", parallelism=2, completions=4, activeDeadlineSeconds=30))
    result = await sync(h, ctrl, "slow")
    assert result is not None and result.requeue_after == pytest.approx(30.0)
    assert len(job_pods(h, "slow")) == 2

    h.clock.step(30)
    await sync(h, ctrl, "slow")
    status = job_status(h, "slow")
    assert condition_types(status) == [("FailureTarget", "True", "DeadlineExceeded")]
    assert job_pods(h, "slow") == [], "unscheduled pods go at once once their finalizer is removed"
    assert status["failed"] == 2

    await sync(h, ctrl, "slow")
    status = job_status(h, "slow")
    assert condition_types(status) == [("FailureTarget", "True", "DeadlineExceeded"),
                                       ("Failed", "True", "DeadlineExceeded")]
    assert status["conditions"][1]["message"] == "Job was active longer than specified deadline"
    events = await h.events()
    assert ("Warning", "DeadlineExceeded", "Job was active longer than specified deadline") in events
    assert sum(1 for e in events if e[1] == "SuccessfulDelete") == 2


async def test_terminating_pods_delay_the_failed_condition(env: tuple[Harness, JobController]) -> None:
    h, ctrl = env
    h.client.seed(JOBS, new_job("bound", activeDeadlineSeconds=5))
    await sync(h, ctrl, "bound")
    (pod,) = job_pods(h, "bound")
    pod["spec"]["nodeName"] = "node-1"  # a bound pod terminates gracefully: the kubelet removes it
    h.client.seed(PODS, pod)
    h.clock.step(5)
    await sync(h, ctrl, "bound")
    assert condition_types(job_status(h, "bound")) == [("FailureTarget", "True", "DeadlineExceeded")]
    await sync(h, ctrl, "bound")
    assert job_status(h, "bound")["terminating"] == 1
    assert condition_types(job_status(h, "bound")) == [("FailureTarget", "True", "DeadlineExceeded")]
    await h.client.delete(PODS, pod["metadata"]["name"], NS, grace_period_seconds=0)  # the kubelet is done
    await sync(h, ctrl, "bound")
    assert condition_types(job_status(h, "bound"))[-1] == ("Failed", "True", "DeadlineExceeded")


async def test_suspend_and_resume(env: tuple[Harness, JobController]) -> None:
    h, ctrl = env
    h.client.seed(JOBS, new_job("later", suspend=True))
    await sync(h, ctrl, "later")
    assert job_pods(h, "later") == []
    status = job_status(h, "later")
    assert condition_types(status) == [("Suspended", "True", "JobSuspended")]
    assert "startTime" not in status
    job = h.get(JOBS, "later", NS)
    assert job is not None
    job["spec"]["suspend"] = False
    await h.client.update(JOBS, job)
    await sync(h, ctrl, "later")
    assert len(job_pods(h, "later")) == 1
    assert condition_types(job_status(h, "later")) == [("Suspended", "False", "JobResumed")]
    events = await h.events()
    assert ("Normal", "Suspended", "Job suspended") in events and ("Normal", "Resumed", "Job resumed") in events


async def test_adopts_orphans_and_releases_non_matching(env: tuple[Harness, JobController]) -> None:
    h, ctrl = env
    job = new_job("adopt", parallelism=2, completions=2)
    h.client.seed(JOBS, job)
    labels = job["spec"]["template"]["metadata"]["labels"]
    h.client.seed(PODS, {"metadata": {"name": "orphan", "namespace": NS, "labels": dict(labels)},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}, "status": {"phase": "Running"}})
    h.client.seed(PODS, {"metadata": {"name": "stray", "namespace": NS, "labels": {"app": "other"},
                                      "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "adopt",
                                                           "uid": job["metadata"]["uid"], "controller": True}]},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}, "status": {"phase": "Running"}})
    await sync(h, ctrl, "adopt")
    orphan = h.get(PODS, "orphan", NS)
    stray = h.get(PODS, "stray", NS)
    assert orphan is not None and stray is not None
    assert orphan["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    assert TRACKING_FINALIZER in orphan["metadata"]["finalizers"]
    assert not stray["metadata"].get("ownerReferences")
    assert len(job_pods(h, "adopt")) == 2  # the adopted pod counts: only one new pod


async def test_running_controller_drives_a_job_to_completion(env: tuple[Harness, JobController]) -> None:
    import asyncio

    from tests.unit.controllers.harness import until

    h, ctrl = env
    task = asyncio.create_task(ctrl.run())
    try:
        h.client.seed(JOBS, new_job("live", completions=2, parallelism=2))
        await until(lambda: len(job_pods(h, "live")) == 2)
        for p in job_pods(h, "live"):
            await set_phase(h, p, "Succeeded")
        await until(lambda: condition_types(job_status(h, "live"))[-1:] == [("Complete", "True", "CompletionsReached")])
        assert job_status(h, "live")["succeeded"] == 2
        assert len(job_pods(h, "live")) == 2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
