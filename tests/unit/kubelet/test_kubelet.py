"""The kubelet core over FakeClient + FakeRuntime + FakeClock: pod lifecycle, restarts, probes, termination,
init containers, adoption, node registration."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from pyk8s.client.kinds import LEASES, NODES, PODS
from pyk8s.kubelet.cri import interface as cri
from pyk8s.kubelet.cri.fake import FakeImageService, FakeRuntime
from pyk8s.kubelet.hollow import NODE_LEASE_NAMESPACE

from .rig import NODE, NS, Rig, eventually, make_pod, make_rig


@pytest.fixture
async def rig(tmp_path: object) -> AsyncIterator[Rig]:
    r = make_rig(tmp=str(tmp_path))
    await r.start()
    yield r
    await r.stop()


def running_ids(r: Rig, uid: str, name: str = "app") -> list[str]:
    return [c.id for c in r.runtime.running(pod_uid=uid, name=name)]


async def test_node_registration_lease_and_status(rig: Rig) -> None:
    node = next(n for n in rig.fake.objects(NODES) if n["metadata"]["name"] == NODE)
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == NODE
    assert labels["kubernetes.io/os"] == "linux" and labels["beta.kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/arch"] == labels["beta.kubernetes.io/arch"]
    st = node["status"]
    assert st["capacity"]["pods"] == "110"
    assert st["allocatable"]["memory"] == f"{4 * 1024 * 1024 - 100 * 1024}Ki"
    assert {"type": "InternalIP", "address": "10.250.0.1"} in st["addresses"]
    assert st["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
    assert st["nodeInfo"]["containerRuntimeVersion"] == "fake://0.1.0"
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("True", "KubeletReady",
                                                                      "kubelet is posting ready status")
    await eventually(lambda: any(x["metadata"]["name"] == NODE for x in rig.fake.objects(LEASES,
                                                                                            NODE_LEASE_NAMESPACE)))
    lease = next(x for x in rig.fake.objects(LEASES, NODE_LEASE_NAMESPACE) if x["metadata"]["name"] == NODE)
    first = lease["spec"]["renewTime"]
    assert lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"
    await rig.advance(10)

    def renewed() -> bool:
        x = next(x for x in rig.fake.objects(LEASES, NODE_LEASE_NAMESPACE) if x["metadata"]["name"] == NODE)
        return bool(x["spec"]["renewTime"] != first)
    await eventually(renewed, what="lease renewal after duration/4")


async def test_pod_becomes_running_and_ready(rig: Rig) -> None:
    await rig.create(make_pod("web"))
    await eventually(lambda: rig.phase("web") == "Running", what="Running")
    await eventually(lambda: rig.condition("web", "Ready").get("status") == "True", what="Ready")
    st = rig.status("web")
    assert st["podIP"].startswith("10.88.0.") and st["hostIP"] == "10.250.0.1"
    assert st["startTime"]
    cs = rig.container_status("web")
    assert "running" in cs["state"] and cs["ready"] and cs["started"] and cs["restartCount"] == 0
    assert cs["containerID"].startswith("fake://")
    assert cs["image"] == "docker.io/library/busybox:1.36"
    assert {c["type"] for c in st["conditions"]} >= {"PodReadyToStartContainers", "Initialized", "ContainersReady",
                                                     "Ready", "PodScheduled"}
    await rig.kubelet.recorder.flush()
    reasons = [e["reason"] for e in rig.events()]
    assert "Pulling" in reasons and "Pulled" in reasons and "Created" in reasons and "Started" in reasons
    started = next(e for e in rig.events("Started"))
    assert started["message"] == "Started container app"
    assert started["involvedObject"]["fieldPath"] == "spec.containers{app}"


async def test_crash_loop_backoff_always(rig: Rig) -> None:
    await rig.create(make_pod("crash"))
    await eventually(lambda: rig.phase("crash") == "Running")
    uid = rig.uid("crash")
    # First exit: restarted at once (upstream: the backoff entry starts with this restart).
    rig.runtime.exit_container(running_ids(rig, uid)[0], 1)
    await rig.advance(1)
    await eventually(lambda: len(running_ids(rig, uid)) == 1, what="first restart")
    await eventually(lambda: rig.container_status("crash").get("restartCount") == 1)
    # Second exit: CrashLoopBackOff for 10 s.
    rig.runtime.exit_container(running_ids(rig, uid)[0], 1)
    await rig.advance(1)
    await eventually(lambda: "waiting" in rig.container_status("crash").get("state", {}), what="backoff")
    waiting = rig.container_status("crash")["state"]["waiting"]
    assert waiting["reason"] == "CrashLoopBackOff"
    assert waiting["message"] == f"back-off 10s restarting failed container=app pod=crash_{NS}({uid})"
    last = rig.container_status("crash")["lastState"]["terminated"]
    assert last["exitCode"] == 1 and last["reason"] == "Error"
    assert rig.phase("crash") == "Running"
    assert rig.condition("crash", "Ready")["status"] == "False"
    await rig.advance(7)
    assert running_ids(rig, uid) == []
    await rig.advance(3)
    await eventually(lambda: len(running_ids(rig, uid)) == 1, what="restart after 10s")
    await eventually(lambda: rig.container_status("crash").get("restartCount") == 2)
    # Third exit: 20 s.
    rig.runtime.exit_container(running_ids(rig, uid)[0], 1)
    await rig.advance(1)
    await eventually(lambda: "back-off 20s" in str(rig.container_status("crash")["state"]))
    await rig.advance(17)
    assert running_ids(rig, uid) == []
    await rig.advance(3)
    await eventually(lambda: len(running_ids(rig, uid)) == 1, what="restart after 20s")
    await rig.kubelet.recorder.flush()
    backoff = rig.events("BackOff")
    assert backoff and backoff[0]["message"] == f"Back-off restarting failed container app in pod crash_{NS}({uid})"
    # After 10 min of running fine the backoff starts over: the next exit restarts at once.
    await rig.advance(601, step=60)
    rig.runtime.exit_container(running_ids(rig, uid)[0], 1)
    await rig.advance(1)
    await eventually(lambda: len(running_ids(rig, uid)) == 1, what="restart after reset")


async def test_never_fails(rig: Rig) -> None:
    await rig.create(make_pod("once", restart_policy="Never"))
    await eventually(lambda: rig.phase("once") == "Running")
    uid = rig.uid("once")
    rig.runtime.exit_container(running_ids(rig, uid)[0], 2)
    await rig.advance(1)
    await eventually(lambda: rig.phase("once") == "Failed", what="Failed")
    term = rig.container_status("once")["state"]["terminated"]
    assert term["exitCode"] == 2 and term["reason"] == "Error"
    assert rig.container_status("once")["restartCount"] == 0
    await rig.advance(30)
    assert len(rig.runtime.of_pod(uid, "app")) == 1  # never restarted
    await eventually(lambda: rig.condition("once", "PodReadyToStartContainers").get("status") == "False")


async def test_on_failure_success_completes(rig: Rig) -> None:
    await rig.create(make_pod("job", restart_policy="OnFailure"))
    await eventually(lambda: rig.phase("job") == "Running")
    uid = rig.uid("job")
    rig.runtime.exit_container(running_ids(rig, uid)[0], 1)
    await rig.advance(1)
    await eventually(lambda: len(running_ids(rig, uid)) == 1, what="OnFailure restart")
    rig.runtime.exit_container(running_ids(rig, uid)[0], 0)
    await rig.advance(1)
    await eventually(lambda: rig.phase("job") == "Succeeded", what="Succeeded")
    cs = rig.container_status("job")
    assert cs["state"]["terminated"]["reason"] == "Completed" and cs["restartCount"] == 1
    ready = rig.condition("job", "Ready")
    assert ready["status"] == "False" and ready["reason"] == "PodCompleted"


async def test_oom_killed(rig: Rig) -> None:
    await rig.create(make_pod("oom", restart_policy="Never"))
    await eventually(lambda: rig.phase("oom") == "Running")
    rig.runtime.oom_kill(running_ids(rig, rig.uid("oom"))[0])
    await rig.advance(1)
    await eventually(lambda: rig.phase("oom") == "Failed")
    term = rig.container_status("oom")["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (137, "OOMKilled")


async def test_init_containers_run_in_order(rig: Rig) -> None:
    init = [{"name": "init-a", "image": "busybox"}, {"name": "init-b", "image": "busybox"}]
    await rig.create(make_pod("ini", init=init))
    await eventually(lambda: len(rig.runtime.running(name="init-a")) == 1, what="init-a")
    assert rig.runtime.running(name="init-b") == [] and rig.runtime.running(name="app") == []
    await eventually(lambda: rig.phase("ini") == "Pending" and bool(rig.status("ini").get("initContainerStatuses")))
    await eventually(lambda: rig.container_status("ini")["state"].get("waiting", {}).get("reason") ==
                     "PodInitializing")
    cond = rig.condition("ini", "Initialized")
    assert cond["status"] == "False" and cond["reason"] == "ContainersNotInitialized"
    assert cond["message"] == "containers with incomplete status: [init-a init-b]"
    rig.runtime.exit_container(rig.runtime.running(name="init-a")[0].id, 0)
    await rig.advance(1)
    await eventually(lambda: len(rig.runtime.running(name="init-b")) == 1, what="init-b")
    assert rig.runtime.running(name="app") == []
    rig.runtime.exit_container(rig.runtime.running(name="init-b")[0].id, 0)
    await rig.advance(1)
    await eventually(lambda: len(rig.runtime.running(name="app")) == 1, what="app after init")
    await eventually(lambda: rig.phase("ini") == "Running" and rig.condition("ini", "Initialized")["status"] == "True")
    order = [args[1].metadata.name for args in rig.runtime.called("create_container")]
    assert order == ["init-a", "init-b", "app"]


async def test_failed_init_container_never_fails_pod(rig: Rig) -> None:
    await rig.create(make_pod("badinit", init=[{"name": "init", "image": "busybox"}], restart_policy="Never"))
    await eventually(lambda: len(rig.runtime.running(name="init")) == 1)
    rig.runtime.exit_container(rig.runtime.running(name="init")[0].id, 3)
    await rig.advance(1)
    await eventually(lambda: rig.phase("badinit") == "Failed")
    assert not any(c.metadata.name == "app" for c in rig.runtime.containers.values())


async def test_liveness_failure_restarts(rig: Rig) -> None:
    probe = {"exec": {"command": ["check"]}, "periodSeconds": 10, "failureThreshold": 3}
    await rig.create(make_pod("live", containers=[{"name": "app", "image": "busybox", "livenessProbe": probe}]))
    await eventually(lambda: rig.phase("live") == "Running")
    uid = rig.uid("live")
    first = running_ids(rig, uid)[0]
    rig.runtime.script_exec(first, ["check"], cri.ExecSyncResult(b"", b"not healthy", 1))
    await rig.advance(35)
    await eventually(lambda: running_ids(rig, uid) != [first] and len(running_ids(rig, uid)) == 1,
                     what="restart after liveness failure")
    await eventually(lambda: rig.container_status("live").get("restartCount") == 1)
    await rig.kubelet.recorder.flush()
    killing = [e["message"] for e in rig.events("Killing")]
    assert "Container app failed liveness probe, will be restarted" in killing
    unhealthy = rig.events("Unhealthy")
    assert unhealthy and unhealthy[0]["message"] == "Liveness probe failed: not healthy"


async def test_readiness_failure_keeps_not_ready(rig: Rig) -> None:
    probe = {"exec": {"command": ["ready"]}, "periodSeconds": 5}
    await rig.create(make_pod("rd", containers=[{"name": "app", "image": "busybox", "readinessProbe": probe}]))
    await eventually(lambda: rig.phase("rd") == "Running")
    uid = rig.uid("rd")
    cid = running_ids(rig, uid)[0]
    rig.runtime.script_exec(cid, ["ready"], cri.ExecSyncResult(b"", b"", 1))
    await rig.advance(30, step=5)
    ready = rig.condition("rd", "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [app]"
    assert rig.container_status("rd")["ready"] is False
    assert running_ids(rig, uid) == [cid] and rig.container_status("rd")["restartCount"] == 0
    rig.runtime.script_exec(cid, ["ready"], cri.ExecSyncResult(b"", b"", 0))
    await rig.advance(6, step=3)
    await eventually(lambda: rig.condition("rd", "Ready").get("status") == "True", what="ready after success")


async def test_graceful_deletion(rig: Rig) -> None:
    pre_stop = {"exec": {"command": ["/bin/drain"]}}
    pod = make_pod("del", grace=45, containers=[{"name": "app", "image": "busybox",
                                                 "lifecycle": {"preStop": pre_stop}}])
    await rig.create(pod)
    await eventually(lambda: rig.phase("del") == "Running")
    uid = rig.uid("del")
    cid = running_ids(rig, uid)[0]
    rig.fake.clear_actions()
    rig.runtime.calls.clear()
    await rig.fake.delete(PODS, "del", NS)
    await eventually(lambda: rig.pod("del") is None, what="pod object deleted")
    methods = [m for m, _ in rig.runtime.calls]
    assert methods.index("exec_sync") < methods.index("stop_container")
    assert rig.runtime.called("exec_sync")[0][:2] == (cid, ["/bin/drain"])
    assert rig.runtime.called("stop_container")[0] == (cid, 45)
    deletes = [a for a in rig.fake.actions if a.verb == "delete" and a.resource == "pods"]
    assert len(deletes) == 2
    assert deletes[1].body == {"grace_period_seconds": 0, "preconditions": {"uid": uid}} or \
        "0" in str(deletes[1].body)
    status_writes = [a for a in rig.fake.actions if a.verb == "patch" and a.subresource == "status"]
    assert status_writes and status_writes[-1].body["status"]["phase"] in ("Failed", "Succeeded")
    await rig.kubelet.recorder.flush()
    assert "Stopping container app" in [e["message"] for e in rig.events("Killing")]
    await eventually(lambda: not rig.runtime.sandboxes, what="sandbox removed")


async def test_image_pull_failure_and_backoff(rig: Rig) -> None:
    rig.images.fail_pull("nosuch:1", "manifest unknown", times=2)
    await rig.create(make_pod("img", containers=[{"name": "app", "image": "nosuch:1"}]))

    def waiting_reasons() -> list[str]:
        out = []
        for a in rig.fake.actions:
            if a.verb == "patch" and a.subresource == "status" and a.name == "img":
                for cs in a.body["status"].get("containerStatuses") or []:
                    out.append(cs["state"].get("waiting", {}).get("reason", ""))
        return out

    await eventually(lambda: "ErrImagePull" in waiting_reasons(), what="ErrImagePull")
    await rig.advance(2)
    await eventually(lambda: rig.container_status("img")["state"].get("waiting", {}).get("reason") ==
                     "ImagePullBackOff", what="ImagePullBackOff")
    assert rig.images.pulls == ["nosuch:1"]
    await rig.advance(10)
    await eventually(lambda: len(rig.images.pulls) == 2, what="second pull after 10s")
    await rig.advance(21, step=3)
    await eventually(lambda: rig.phase("img") == "Running", what="third pull works")


async def test_create_container_error(rig: Rig) -> None:
    rig.runtime.fail_next("create_container", cri.CRIError("no such file: /bin/nope"))
    await rig.create(make_pod("cce"))
    await eventually(lambda: rig.container_status("cce").get("state", {}).get("waiting", {}).get("reason") ==
                     "CreateContainerError")
    await rig.advance(10)
    await eventually(lambda: rig.phase("cce") == "Running")


async def test_spec_hash_change_restarts(rig: Rig) -> None:
    await rig.create(make_pod("hash", containers=[{"name": "app", "image": "busybox:1.36"}]))
    await eventually(lambda: rig.phase("hash") == "Running")
    uid = rig.uid("hash")
    first = running_ids(rig, uid)[0]
    await rig.fake.patch(PODS, "hash", {"spec": {"containers": [{"name": "app", "image": "busybox:1.37"}]}}, NS,
                         patch_type="strategic")
    await eventually(lambda: running_ids(rig, uid) not in ([], [first]), what="restart on hash change")
    await rig.kubelet.recorder.flush()
    assert "Container app definition changed, will be restarted" in [e["message"] for e in rig.events("Killing")]


async def test_adoption_keeps_running_containers(tmp_path: object) -> None:
    first = make_rig(tmp=str(tmp_path))
    await first.start()
    await first.create(make_pod("keep"))
    await eventually(lambda: first.phase("keep") == "Running")
    uid = first.uid("keep")
    cid = running_ids(first, uid)[0]
    first.runtime.exit_container(cid, 1)
    await first.advance(1)
    await eventually(lambda: first.container_status("keep").get("restartCount") == 1)
    cid = running_ids(first, uid)[0]
    await first.stop()  # kill -9: containers keep running
    # An orphan sandbox of a pod that no longer exists.
    orphan = await first.runtime.run_pod_sandbox(
        cri.PodSandboxConfig(cri.PodSandboxMetadata("gone", NS, "uid-gone"), "gone", "/logs"))
    second = make_rig(tmp=str(tmp_path), runtime=first.runtime, images=first.images, fake=first.fake,
                      clock=first.clock)
    creates = len(first.runtime.called("create_container"))
    await second.start()
    await second.advance(3)
    await eventually(lambda: orphan not in second.runtime.sandboxes, what="orphan removed")
    assert running_ids(second, uid) == [cid]
    assert len(second.runtime.called("create_container")) == creates
    cs = second.container_status("keep")
    assert cs["restartCount"] == 1 and cs["containerID"] == f"fake://{cid}"
    assert second.phase("keep") == "Running"
    await second.stop()


async def test_sandbox_recreated_after_crash(rig: Rig) -> None:
    await rig.create(make_pod("reboot"))
    await eventually(lambda: rig.phase("reboot") == "Running")
    uid = rig.uid("reboot")
    rig.runtime.crash()
    await rig.advance(1)
    await eventually(lambda: len(running_ids(rig, uid)) == 1, what="recreated")
    assert len([s for s in rig.runtime.sandboxes.values() if s.metadata.uid == uid]) == 2
    newest = max((s for s in rig.runtime.sandboxes.values() if s.metadata.uid == uid), key=lambda s: s.created_at)
    assert newest.metadata.attempt == 1
    await eventually(lambda: rig.container_status("reboot").get("restartCount") == 1)


def test_fake_images_present() -> None:
    images = FakeImageService(present=["busybox:1.36"])
    assert "busybox:1.36" in images.images
    assert FakeRuntime().stop_exit_code == 143


async def test_image_gc_spares_images_in_use_and_reports_failures(rig: Rig) -> None:
    asked: list[Callable[[str], bool]] = []
    failing = False

    async def gc(in_use: Callable[[str], bool]) -> None:
        asked.append(in_use)
        if failing:
            raise cri.CRIError("Failed to garbage collect required amount of images. Attempted to free 10 bytes, "
                               "but only found 0 bytes eligible to free.")

    rig.kubelet.image_gc = gc
    await rig.create(make_pod("web"))
    await eventually(lambda: rig.phase("web") == "Running", what="Running")
    cs = rig.container_status("web")
    await rig.kubelet.collect_images()
    assert asked[-1](cs["imageID"]) and not asked[-1]("sha256:" + "0" * 64)
    failing = True
    await rig.kubelet.collect_images()
    await rig.kubelet.recorder.flush()
    failed = rig.events("ImageGCFailed")
    assert failed and failed[0]["involvedObject"]["kind"] == "Node" and "garbage collect" in failed[0]["message"]


async def test_a_started_event_for_a_pod_already_seen_running_needs_no_sync(rig: Rig) -> None:
    await rig.create(make_pod("quiet", containers=[{"name": "app", "image": "busybox"},
                                                   {"name": "side", "image": "busybox"}]))
    await eventually(lambda: rig.phase("quiet") == "Running")
    uid = rig.uid("quiet")
    await eventually(lambda: rig.kubelet.pleg.cache.get(uid) is not None
                     and len(rig.kubelet.pleg.cache[uid].running()) == 2, what="relisted")
    worker = rig.kubelet.pod_workers._workers[uid]
    syncs = worker.syncs
    await rig.advance(3)  # relists report both containers started: the sync that started them saw that already
    assert worker.syncs == syncs
    rig.runtime.exit_container(running_ids(rig, uid)[0], 1)  # a death still wakes the worker at once
    await rig.advance(1)
    await eventually(lambda: len(running_ids(rig, uid)) == 1 and worker.syncs > syncs, what="restart")
    await eventually(lambda: rig.container_status("quiet").get("restartCount") == 1)
