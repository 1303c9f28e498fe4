"""The seed tutorial's workflow end to end: `pyk8s server` + 3 hollow nodes, driven by the real kubectl.

One cluster serves the whole module (timers shortened so node-failure handling takes seconds). Each test
works in its own namespace. Waits poll with deadlines; the rollout test watches every pod event.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch

from tests.cluster_process import ClusterProcess
from tests.conftest import Kubectl

CM_ARGS = ["node-monitor-period=1s", "node-monitor-grace-period=4s", "node-startup-grace-period=10s",
           "leader-elect-lease-duration=4s", "leader-elect-renew-deadline=3s", "leader-elect-retry-period=1s"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterProcess]:
    args = [f"--kube-controller-manager-arg={a}" for a in CM_ARGS]
    c = ClusterProcess(tmp_path_factory.mktemp("cluster"), server_args=args, hollow_nodes=3,
                       hollow_args=["--node-lease-duration-seconds", "4", "--heartbeat-interval", "1s"])
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def kubectl(cluster: ClusterProcess, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    k = Kubectl("kubectl", cluster.kubeconfig, tmp_path_factory.mktemp("home"))
    wait_for(lambda: _ready_nodes(k) >= 3, 60, "3 hollow nodes Ready", cluster)
    return k


@pytest.fixture
def ns(kubectl: Kubectl) -> Iterator[str]:
    with kubectl.temp_namespace("cp") as name:
        yield name


@pytest.fixture(scope="module")
def api(cluster: ClusterProcess) -> Iterator[client.ApiClient]:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=cfg)
    with client.ApiClient(cfg) as a:
        yield a


def wait_for(cond: Callable[[], Any], timeout: float, what: str, cluster: ClusterProcess | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = f"\n{cluster.logs()}" if cluster is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{logs}")
        time.sleep(0.2)


def _ready_nodes(k: Kubectl) -> int:
    nodes = json.loads(k("get", "nodes", "-o", "json"))["items"]
    return sum(1 for n in nodes for c in n["status"].get("conditions", [])
               if c["type"] == "Ready" and c["status"] == "True")


def pods(k: Kubectl, ns: str, selector: str = "") -> list[dict[str, Any]]:
    args = ["get", "pods", "-n", ns, "-o", "json"] + (["-l", selector] if selector else [])
    return json.loads(k(*args))["items"]


def running(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in items if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]


def test_tutorial_flow_create_describe_scale(kubectl: Kubectl, ns: str, cluster: ClusterProcess) -> None:
    kubectl("create", "deployment", "nginx", "--image=nginx", "--replicas=2", "-n", ns)
    got = wait_for(lambda: len(running(pods(kubectl, ns, "app=nginx"))) == 2 and running(pods(kubectl, ns, "app=nginx")),
                   30, "2 Running nginx pods", cluster)
    assert len({p["spec"]["nodeName"] for p in got}) == 2, "the two replicas should land on two different nodes"
    rs = json.loads(kubectl("get", "rs", "-n", ns, "-o", "json"))["items"]
    assert len(rs) == 1
    h = rs[0]["metadata"]["labels"]["pod-template-hash"]
    assert rs[0]["metadata"]["name"] == f"nginx-{h}"
    assert all(p["metadata"]["name"].startswith(f"nginx-{h}-") for p in got)
    wait_for(lambda: "Scaled up replica set nginx-" in kubectl("describe", "deploy", "nginx", "-n", ns), 20,
             "the ScalingReplicaSet event", cluster)
    described = kubectl("describe", "deploy", "nginx", "-n", ns)
    assert re.search(rf"Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set nginx-{h} "
                     r"(from 0 )?to 2", described), described
    wide = kubectl("get", "pods", "-o", "wide", "-n", ns)
    assert "Running" in wide and "hollow-node-" in wide
    kubectl("scale", "deployment", "nginx", "--replicas=4", "-n", ns)
    wait_for(lambda: len(running(pods(kubectl, ns, "app=nginx"))) == 4, 30, "scale up to 4", cluster)
    kubectl("scale", "deployment", "nginx", "--replicas=1", "-n", ns)
    wait_for(lambda: len(pods(kubectl, ns, "app=nginx")) == 1, 30, "scale down to 1", cluster)
    kubectl("rollout", "status", "deployment/nginx", "-n", ns, "--timeout=30s")


def test_set_image_respects_max_unavailable_and_undo(kubectl: Kubectl, ns: str, api: client.ApiClient,
                                                     cluster: ClusterProcess) -> None:
    replicas, max_unavailable = 4, 1
    kubectl("create", "deployment", "web", "--image=nginx:1.25", f"--replicas={replicas}", "-n", ns)
    kubectl("patch", "deployment", "web", "-n", ns, "--type=merge", "-p", json.dumps(
        {"spec": {"strategy": {"rollingUpdate": {"maxUnavailable": max_unavailable, "maxSurge": 1}}}}))
    kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s")
    core = client.CoreV1Api(api)
    start_rv = core.list_namespaced_pod(ns).metadata.resource_version
    ready: dict[str, bool] = {}
    minimum: list[int] = []
    stop = threading.Event()

    def watch_pods() -> None:
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_pod, ns, resource_version=start_rv, timeout_seconds=60,
                           _preload_content=False):
            obj = ev["raw_object"]
            name = obj["metadata"]["name"]
            is_ready = (ev["type"] != "DELETED" and not obj["metadata"].get("deletionTimestamp")
                        and any(c["type"] == "Ready" and c["status"] == "True"
                                for c in obj.get("status", {}).get("conditions", [])))
            ready[name] = is_ready
            minimum.append(sum(ready.values()))
            if stop.is_set():
                w.stop()

    for p in core.list_namespaced_pod(ns).items:
        ready[p.metadata.name] = any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
    assert sum(ready.values()) == replicas
    t = threading.Thread(target=watch_pods, daemon=True)
    t.start()
    kubectl("set", "image", "deployment/web", "nginx=nginx:1.26", "-n", ns)
    kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s")
    wait_for(lambda: len(pods(kubectl, ns)) == replicas, 30, "old pods gone", cluster)
    stop.set()
    kubectl("annotate", "deployment", "web", "-n", ns, "poke=1")  # one more event so the watcher notices stop
    t.join(timeout=70)
    assert minimum, "the watch saw no pod events during the rollout"
    assert min(minimum) >= replicas - max_unavailable, f"ready pods dropped to {min(minimum)} during the rollout"
    images = {p["spec"]["containers"][0]["image"] for p in pods(kubectl, ns)}
    assert images == {"nginx:1.26"}
    history = kubectl("rollout", "history", "deployment/web", "-n", ns)
    assert re.search(r"^1\s", history, re.M) and re.search(r"^2\s", history, re.M), history
    old_rs = {r["metadata"]["name"] for r in json.loads(kubectl("get", "rs", "-n", ns, "-o", "json"))["items"]
              if r["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"}
    kubectl("rollout", "undo", "deployment/web", "-n", ns)
    kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s")
    wait_for(lambda: {p["metadata"]["labels"]["pod-template-hash"] for p in pods(kubectl, ns)} ==
             {n.rsplit("-", 1)[1] for n in old_rs}, 30, "pods back on the previous ReplicaSet", cluster)

    kubectl("rollout", "pause", "deployment/web", "-n", ns)
    kubectl("set", "image", "deployment/web", "nginx=nginx:1.27", "-n", ns)
    time_limit = time.monotonic() + 2
    while time.monotonic() < time_limit:  # paused: no new ReplicaSet may appear
        rs_images = {r["spec"]["template"]["spec"]["containers"][0]["image"]
                     for r in json.loads(kubectl("get", "rs", "-n", ns, "-o", "json"))["items"]}
        assert "nginx:1.27" not in rs_images
    kubectl("rollout", "resume", "deployment/web", "-n", ns)
    kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s")
    wait_for(lambda: {p["spec"]["containers"][0]["image"] for p in pods(kubectl, ns)} == {"nginx:1.27"}, 30,
             "resumed rollout", cluster)


DAEMONSET = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: busybox}]
"""


def test_daemonset_one_pod_per_node_and_follows_new_node(kubectl: Kubectl, ns: str, cluster: ClusterProcess,
                                                         tmp_path: Path) -> None:
    kubectl("apply", "-n", ns, "-f", "-", input=DAEMONSET)
    wait_for(lambda: len(running(pods(kubectl, ns, "app=agent"))) == 3, 30, "3 DaemonSet pods", cluster)
    assert len({p["spec"]["nodeName"] for p in pods(kubectl, ns, "app=agent")}) == 3
    extra = ClusterProcess(cluster.data_dir, hollow_nodes=1, hollow_args=["--name-prefix", f"late-{uuid.uuid4().hex[:4]}-"])
    extra.port = cluster.port
    extra.start_hollow_nodes()
    try:
        got = wait_for(lambda: len(running(pods(kubectl, ns, "app=agent"))) == 4 and pods(kubectl, ns, "app=agent"),
                       40, "a DaemonSet pod on the new node", cluster)
        assert len({p["spec"]["nodeName"] for p in got}) == 4
        kubectl("rollout", "status", "ds/agent", "-n", ns, "--timeout=30s")
    finally:
        late_nodes = [n["metadata"]["name"] for n in json.loads(kubectl("get", "nodes", "-o", "json"))["items"]
                      if n["metadata"]["name"].startswith("late-")]
        from tests.cluster_process import _stop
        _stop(extra.hollow)
        for n in late_nodes:
            kubectl.run("delete", "node", n, "--wait=false", check=False)


STATEFULSET = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
"""


def test_statefulset_orders_creation_and_deletion(kubectl: Kubectl, ns: str, api: client.ApiClient,
                                                  cluster: ClusterProcess) -> None:
    core = client.CoreV1Api(api)
    rv = core.list_namespaced_pod(ns).metadata.resource_version
    kubectl("apply", "-n", ns, "-f", "-", input=STATEFULSET)
    wait_for(lambda: len(running(pods(kubectl, ns, "app=web"))) == 2, 40, "web-0 and web-1 running", cluster)
    kubectl("scale", "sts", "web", "--replicas=0", "-n", ns)
    wait_for(lambda: not pods(kubectl, ns, "app=web"), 40, "StatefulSet scaled to zero", cluster)
    events: list[tuple[str, str]] = []
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_pod, ns, resource_version=rv, timeout_seconds=5, _preload_content=False):
        events.append((ev["type"], ev["raw_object"]["metadata"]["name"]))
    added = [n for t, n in events if t == "ADDED"]
    deleted = [n for t, n in events if t == "DELETED"]
    assert added == ["web-0", "web-1"], events
    assert deleted == ["web-1", "web-0"], events


JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: work}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: work, image: busybox, command: [sh, -c, "exit 0"]}]
"""

CRONJOB = """
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: tick, image: busybox}]
"""


def test_job_and_cronjob_complete(kubectl: Kubectl, ns: str, cluster: ClusterProcess) -> None:
    kubectl("apply", "-n", ns, "-f", "-", input=JOB)
    kubectl("apply", "-n", ns, "-f", "-", input=CRONJOB)
    kubectl("wait", "--for=condition=complete", "job/work", "-n", ns, "--timeout=60s")
    job = json.loads(kubectl("get", "job", "work", "-n", ns, "-o", "json"))
    assert job["status"]["succeeded"] == 3
    assert "3/3" in kubectl("get", "job", "work", "-n", ns)
    cron_job = wait_for(lambda: [j for j in json.loads(kubectl("get", "jobs", "-n", ns, "-o", "json"))["items"]
                                 if j["metadata"]["name"].startswith("tick-")], 70, "a Job from the CronJob", cluster)
    assert cron_job[0]["metadata"]["ownerReferences"][0]["kind"] == "CronJob"


def test_deleting_deployment_and_namespace_removes_everything(kubectl: Kubectl, cluster: ClusterProcess) -> None:
    name = f"gone-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    try:
        kubectl("create", "deployment", "d", "--image=nginx", "--replicas=2", "-n", name)
        wait_for(lambda: len(running(pods(kubectl, name))) == 2, 30, "2 pods", cluster)
        kubectl("delete", "deployment", "d", "-n", name)
        wait_for(lambda: not pods(kubectl, name) and "No resources" in kubectl.run(
            "get", "rs", "-n", name, allow_stderr=True).stderr, 30, "ReplicaSets and pods garbage-collected", cluster)
        kubectl("create", "deployment", "e", "--image=nginx", "--replicas=2", "-n", name)
        kubectl("create", "configmap", "c", "--from-literal=a=b", "-n", name)
        wait_for(lambda: len(running(pods(kubectl, name))) == 2, 30, "2 more pods", cluster)
        kubectl("delete", "namespace", name, "--timeout=60s")
        assert kubectl.run("get", "namespace", name, check=False).returncode != 0
    finally:
        kubectl.run("delete", "namespace", name, "--wait=false", check=False)


TOLERANT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: survivor}
spec:
  replicas: 3
  selector: {matchLabels: {app: survivor}}
  template:
    metadata: {labels: {app: survivor}}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers: [{name: s, image: nginx}]
"""


def test_node_that_stops_heartbeating_is_tainted_and_its_pods_replaced(kubectl: Kubectl, ns: str,
                                                                        cluster: ClusterProcess) -> None:
    kubectl("apply", "-n", ns, "-f", "-", input=TOLERANT)
    got = wait_for(lambda: len(running(pods(kubectl, ns))) == 3 and running(pods(kubectl, ns)), 30, "3 pods", cluster)
    victim = got[0]["spec"]["nodeName"]
    victim_pods = {p["metadata"]["name"] for p in got if p["spec"]["nodeName"] == victim}
    kubectl("annotate", "node", victim, "hollow.pyk8s.io/heartbeat=stopped")
    try:
        def node_unknown() -> bool:
            node = json.loads(kubectl("get", "node", victim, "-o", "json"))
            ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
            taints = {t["key"] for t in node["spec"].get("taints", [])}
            return ready["status"] == "Unknown" and "node.kubernetes.io/unreachable" in taints

        wait_for(node_unknown, 30, f"{victim} Ready=Unknown with the unreachable taint", cluster)
        assert "NotReady" in kubectl("get", "node", victim)
        # Eviction is a graceful delete, as upstream: on a dead node the pods stay Terminating until it comes back.
        wait_for(lambda: all(p["metadata"].get("deletionTimestamp") for p in pods(kubectl, ns)
                             if p["metadata"]["name"] in victim_pods), 40, "the pods on the dead node evicted", cluster)
        replaced = wait_for(lambda: len(running(pods(kubectl, ns))) == 3 and running(pods(kubectl, ns)), 40,
                            "3 replacement pods", cluster)
        assert all(p["spec"]["nodeName"] != victim for p in replaced)
    finally:
        kubectl("annotate", "node", victim, "hollow.pyk8s.io/heartbeat-")
        wait_for(lambda: _ready_nodes(kubectl) >= 3, 40, "the node back to Ready", cluster)
    wait_for(lambda: not victim_pods & {p["metadata"]["name"] for p in pods(kubectl, ns)}, 40,
             "the evicted pods gone once their node is back", cluster)


def test_crashed_components_are_restarted_and_resume(kubectl: Kubectl, ns: str, cluster: ClusterProcess) -> None:
    """kill -9 of the controller-manager, then of the apiserver: the server restarts each, the components
    reconnect (relist or resume their watches) and the cluster keeps reconciling."""
    for component in ("controller-manager", "apiserver"):
        old = cluster.component_pids()[component]
        os.kill(old, signal.SIGKILL)
        wait_for(lambda c=component, o=old: cluster.component_pids().get(c, o) != o, 30,
                 f"{component} restarted", cluster)
        wait_for(lambda: kubectl.run("get", "--raw", "/readyz", check=False).returncode == 0, 30, "apiserver ready",
                 cluster)
        name = f"after-{component}"
        kubectl("create", "deployment", name, "--image=nginx", "-n", ns)
        wait_for(lambda n=name: len(running(pods(kubectl, ns, f"app={n}"))) == 1, 60,
                 f"a pod of {name} running", cluster)


def test_scheduler_events_scheduled_and_failed_scheduling(kubectl: Kubectl, ns: str, cluster: ClusterProcess) -> None:
    kubectl("run", "small", "--image=busybox", "-n", ns)
    kubectl("run", "huge", "--image=busybox", "-n", ns, "--overrides", json.dumps(
        {"spec": {"containers": [{"name": "huge", "image": "busybox", "resources": {"requests": {"cpu": "1000"}}}]}}))
    wait_for(lambda: "Successfully assigned" in kubectl("describe", "pod", "small", "-n", ns), 30, "Scheduled", cluster)
    assert re.search(rf"Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned {ns}/small to hollow-node-\d",
                     kubectl("describe", "pod", "small", "-n", ns))
    wait_for(lambda: "FailedScheduling" in kubectl("describe", "pod", "huge", "-n", ns), 30, "FailedScheduling",
             cluster)
    described = kubectl("describe", "pod", "huge", "-n", ns)
    assert re.search(r"Warning\s+FailedScheduling\s+\S+\s+default-scheduler\s+0/\d+ nodes are available: "
                     r"\d+ Insufficient cpu\. preemption: 0/\d+ nodes are available: ", described), described
    pod = json.loads(kubectl("get", "pod", "huge", "-n", ns, "-o", "json"))
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["status"] == "False" and cond["reason"] == "Unschedulable"
    assert "Pending" in kubectl("get", "pod", "huge", "-n", ns)
