"""A real node end to end: `pyk8s server`, one kubelet running runc containers inside its own network namespace,
images from a local registry, driven by the real kubectl (1.29 for the SPDY paths, the one on PATH for the
WebSocket ones) and the official Python client.

One node serves the module; each test works in its own namespace. Waits poll with deadlines. The module
fixture tears the node down even when a test fails and then asserts nothing of it is left on the machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.stream import stream

from tests.conftest import Kubectl
from tests.node_cluster import IMAGE, NodeCluster

pytestmark = pytest.mark.e2e

KUBECTL_SPDY = "/usr/lib/google-cloud-sdk/bin/kubectl.1.29"  # exec/attach/port-forward only over SPDY/3.1
KUBECTL_PF_SPDY = "/usr/lib/google-cloud-sdk/bin/kubectl.1.30"  # port-forward over plain SPDY


def _missing() -> str:
    if os.geteuid() != 0:
        return "needs root (runc, network namespaces, cgroups)"
    for tool in ("runc", "nsenter", "ip", "docker-registry"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make install puts it there)"
    return ""


if _missing():
    pytest.skip(_missing(), allow_module_level=True)


def wait_for(check: Callable[[], Any], timeout: float, what: str, node: NodeCluster) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})\n{node.logs()}")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeCluster]:
    nc = NodeCluster(tmp_path_factory.mktemp("node"))
    nc.start()
    try:
        yield nc
    finally:
        nc.stop()
    _assert_nothing_left(nc)


def _assert_nothing_left(nc: NodeCluster) -> None:
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert nc.suffix not in netns, netns
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(nc.node_dir) not in mounts and nc.run_dir not in mounts
    assert not [d for d in Path("/sys/fs/cgroup").glob(f"*/pyk8s-e2e-{nc.suffix}")]
    assert not Path(nc.runc_root).exists()


@pytest.fixture(scope="module")
def kubectl(node: NodeCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl("kubectl", node.kubeconfig, tmp_path_factory.mktemp("home"))


@pytest.fixture
def ns(kubectl: Kubectl) -> Iterator[str]:
    with kubectl.temp_namespace("node") as name:
        yield name


def apply(kubectl: Kubectl, ns: str, obj: dict[str, Any]) -> None:
    kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(obj))


def pod(name: str, command: list[str], **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": IMAGE, "command": command, **spec.pop("container", {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [container], "terminationGracePeriodSeconds": 2, **spec}}


def get_pod(kubectl: Kubectl, ns: str, name: str) -> dict[str, Any]:
    out = kubectl.run("-n", ns, "get", "pod", name, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def container_status(p: dict[str, Any]) -> dict[str, Any]:
    statuses = (p.get("status") or {}).get("containerStatuses") or []
    return statuses[0] if statuses else {}


def wait_ready(kubectl: Kubectl, ns: str, name: str, node: NodeCluster, timeout: float = 60) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        p = get_pod(kubectl, ns, name)
        conds = {c["type"]: c["status"] for c in (p.get("status") or {}).get("conditions") or []}
        return p if conds.get("Ready") == "True" else None
    return wait_for(ready, timeout, f"pod {ns}/{name} Ready", node)  # type: ignore[no-any-return]


HTTPD = ["httpd", "-f", "-p", "80", "-h", "/var/www"]


def test_deployment_pods_ready_and_reach_each_other(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    kubectl("-n", ns, "create", "deployment", "web", f"--image={IMAGE}", "--replicas=2", "--port=80", "--", *HTTPD)

    def two_ready() -> list[str] | None:
        out = kubectl("-n", ns, "get", "pods", "-l", "app=web", "-o", "wide", "--no-headers")
        rows = [r.split() for r in out.splitlines()]
        return rows if len(rows) == 2 and all(r[1] == "1/1" and r[2] == "Running" for r in rows) else None

    rows = wait_for(two_ready, 90, "2 web pods READY 1/1", node)
    assert {r[6] for r in rows} == {node.node_name}
    (a, a_ip), (_b, b_ip) = [(r[0], r[5]) for r in rows]
    assert a_ip != b_ip and a_ip.startswith("10.244.")
    # pod-to-pod by pod IP, from inside pod a
    page = kubectl("-n", ns, "exec", a, "--", "wget", "-qO-", f"http://{b_ip}:80/")
    assert "hello from pyk8s busybox" in page
    # the hostname a pod sees is its name
    assert kubectl("-n", ns, "exec", a, "--", "cat", "/etc/hostname").strip() == a
    hosts = kubectl("-n", ns, "exec", a, "--", "cat", "/etc/hosts")
    assert re.search(rf"^{re.escape(a_ip)}\s+{a}\b", hosts, re.M), hosts


@pytest.mark.parametrize("binary", ["kubectl", KUBECTL_SPDY])
def test_exec_stdin_and_exit_code(kubectl: Kubectl, ns: str, node: NodeCluster, binary: str) -> None:
    apply(kubectl, ns, pod("sh", ["sleep", "3600"]))
    wait_ready(kubectl, ns, "sh", node)
    k = Kubectl(binary, kubectl.kubeconfig, Path(kubectl.cache).parent)
    assert k("-n", ns, "exec", "sh", "--", "cat", "/etc/hostname").strip() == "sh"
    assert k("-n", ns, "exec", "-i", "sh", "--", "sh", "-c", "tr a-z A-Z", input="hello stdin\n") == "HELLO STDIN\n"
    res = k.run("-n", ns, "exec", "sh", "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert res.returncode == 3 and res.stdout == "out\n" and "err" in res.stderr


def test_logs_follow_streams_new_lines(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    apply(kubectl, ns, pod("ticker", ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]))
    wait_ready(kubectl, ns, "ticker", node)
    proc = subprocess.Popen(["kubectl", "--kubeconfig", str(node.kubeconfig), "-n", ns, "logs", "-f", "ticker"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen: list[int] = []
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while len(seen) < 15 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            m = re.fullmatch(r"tick (\d+)\n", line)
            assert m, f"unexpected log line {line!r}"
            seen.append(int(m.group(1)))
        assert len(seen) == 15 and seen == list(range(seen[0], seen[0] + 15))
    finally:
        proc.kill()
        proc.wait(timeout=10)
    tail = kubectl("-n", ns, "logs", "ticker", "--tail=2").splitlines()
    assert len(tail) == 2 and all(t.startswith("tick ") for t in tail)


@pytest.mark.parametrize("binary", ["kubectl", KUBECTL_PF_SPDY])
def test_port_forward_serves_a_request(kubectl: Kubectl, ns: str, node: NodeCluster, binary: str) -> None:
    apply(kubectl, ns, pod("web", HTTPD))
    wait_ready(kubectl, ns, "web", node)
    proc = subprocess.Popen([binary, "--kubeconfig", str(node.kubeconfig), "-n", ns, "port-forward", "pod/web",
                             ":80"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"Forwarding from 127\.0\.0\.1:(\d+) -> 80", line)
        assert m, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        for _ in range(2):  # two connections over the same session
            with urllib.request.urlopen(f"http://127.0.0.1:{m.group(1)}/", timeout=10) as resp:
                assert b"hello from pyk8s busybox" in resp.read()
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_attach_sees_output_and_sends_stdin(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    apply(kubectl, ns, pod("echoer", ["sh", "-c", "while read l; do echo got $l; done"],
                           container={"stdin": True}))
    wait_ready(kubectl, ns, "echoer", node)
    proc = subprocess.Popen(["kubectl", "--kubeconfig", str(node.kubeconfig), "-n", ns, "attach", "-i", "echoer"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        got = ""
        deadline = time.monotonic() + 20
        while "got ping" not in got and time.monotonic() < deadline:
            proc.stdin.write("ping\n")
            proc.stdin.flush()
            got += proc.stdout.readline()
        assert "got ping" in got
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_crash_loop_back_off_grows(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    apply(kubectl, ns, pod("crash", ["sh", "-c", "echo dying; exit 1"]))

    def back_off(seconds: int) -> dict[str, Any] | None:
        cs = container_status(get_pod(kubectl, ns, "crash"))
        waiting = (cs.get("state") or {}).get("waiting") or {}
        return cs if waiting.get("reason") == "CrashLoopBackOff" and \
            f"back-off {seconds}s" in waiting.get("message", "") else None

    first = wait_for(lambda: back_off(10), 60, "CrashLoopBackOff back-off 10s", node)
    second = wait_for(lambda: back_off(20), 60, "CrashLoopBackOff back-off 20s", node)
    assert second["restartCount"] > first["restartCount"]
    assert second["lastState"]["terminated"]["exitCode"] == 1
    assert second["lastState"]["terminated"]["reason"] == "Error"
    assert "CrashLoopBackOff" in kubectl("-n", ns, "get", "pod", "crash")
    assert "dying" in kubectl("-n", ns, "logs", "crash", "--previous")


def test_memory_limit_oom_killed(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    apply(kubectl, ns, pod("hog", ["sh", "-c", "x=0123456789; while true; do x=$x$x; done"], restartPolicy="Never",
                           container={"resources": {"limits": {"memory": "24Mi"}}}))

    def terminated() -> dict[str, Any] | None:
        cs = container_status(get_pod(kubectl, ns, "hog"))
        return (cs.get("state") or {}).get("terminated")

    t = wait_for(terminated, 60, "the memory hog terminated", node)
    assert t["reason"] == "OOMKilled" and t["exitCode"] == 137
    assert wait_for(lambda: get_pod(kubectl, ns, "hog")["status"]["phase"] == "Failed", 20, "phase Failed", node)


def test_failing_liveness_probe_restarts(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    probe = {"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1, "failureThreshold": 2}
    apply(kubectl, ns, pod("sick", ["sleep", "3600"], container={"livenessProbe": probe}))
    cs = wait_for(lambda: (c := container_status(get_pod(kubectl, ns, "sick"))).get("restartCount", 0) >= 1 and c,
                  60, "a liveness restart", node)
    assert cs["lastState"]["terminated"]["exitCode"] in (137, 143)
    events = kubectl("-n", ns, "get", "events", "--field-selector", "involvedObject.name=sick")
    assert "Unhealthy" in events and "failed liveness probe, will be restarted" in events


def test_failing_readiness_probe_keeps_pod_not_ready(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    probe = {"exec": {"command": ["false"]}, "periodSeconds": 1}
    apply(kubectl, ns, pod("shy", ["sleep", "3600"], container={"readinessProbe": probe}))
    wait_for(lambda: container_status(get_pod(kubectl, ns, "shy")).get("started"), 60, "started", node)
    # several probe periods later the container runs but is still not ready
    wait_for(lambda: "Readiness probe failed" in kubectl("-n", ns, "get", "events"), 30, "readiness events", node)
    p = get_pod(kubectl, ns, "shy")
    conds = {c["type"]: c["status"] for c in p["status"]["conditions"]}
    assert p["status"]["phase"] == "Running" and conds["Ready"] == "False" and conds["ContainersReady"] == "False"
    assert container_status(p)["ready"] is False and container_status(p)["restartCount"] == 0
    assert "0/1" in kubectl("-n", ns, "get", "pod", "shy")


def test_delete_kills_a_container_ignoring_sigterm_after_grace(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    apply(kubectl, ns, pod("stubborn", ["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"],
                           terminationGracePeriodSeconds=3))
    p = wait_ready(kubectl, ns, "stubborn", node)
    cid = container_status(p)["containerID"].split("//", 1)[1]
    start = time.monotonic()
    kubectl("-n", ns, "delete", "pod", "stubborn", "--wait=true", timeout=60)
    took = time.monotonic() - start
    assert 2.5 <= took < 20, took
    out = subprocess.run(["runc", "--root", node.runc_root, "state", cid], capture_output=True, text=True)
    assert out.returncode != 0 or json.loads(out.stdout)["status"] == "stopped"


def test_kubelet_kill_9_leaves_containers_running(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    apply(kubectl, ns, pod("steady", ["sleep", "3600"]))
    before = container_status(wait_ready(kubectl, ns, "steady", node))
    cid = before["containerID"].split("//", 1)[1]
    pid = json.loads(subprocess.run(["runc", "--root", node.runc_root, "state", cid], capture_output=True,
                                    text=True, check=True).stdout)["pid"]
    node.kill_kubelet()
    assert json.loads(subprocess.run(["runc", "--root", node.runc_root, "state", cid], capture_output=True,
                                     text=True, check=True).stdout)["status"] == "running"
    node.start_kubelet()
    # the restarted kubelet is working once it runs a new pod
    apply(kubectl, ns, pod("after", ["sleep", "3600"]))
    wait_ready(kubectl, ns, "after", node)
    after = container_status(get_pod(kubectl, ns, "steady"))
    assert after["containerID"] == before["containerID"] and after["restartCount"] == before["restartCount"]
    state = json.loads(subprocess.run(["runc", "--root", node.runc_root, "state", cid], capture_output=True,
                                      text=True, check=True).stdout)
    assert state["status"] == "running" and state["pid"] == pid


def test_configmap_and_secret_volumes(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    kubectl("-n", ns, "create", "configmap", "settings", "--from-literal=colour=blue")
    kubectl("-n", ns, "create", "secret", "generic", "creds", "--from-literal=password=s3cr3t")
    spec = pod("vols", ["sleep", "3600"], container={
        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}, {"name": "sec", "mountPath": "/etc/sec"}],
        "env": [{"name": "COLOUR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "colour"}}}]})
    spec["spec"]["volumes"] = [{"name": "cfg", "configMap": {"name": "settings"}},
                               {"name": "sec", "secret": {"secretName": "creds"}}]
    apply(kubectl, ns, spec)
    wait_ready(kubectl, ns, "vols", node)
    assert kubectl("-n", ns, "exec", "vols", "--", "cat", "/etc/cfg/colour") == "blue"
    assert kubectl("-n", ns, "exec", "vols", "--", "cat", "/etc/sec/password") == "s3cr3t"
    assert kubectl("-n", ns, "exec", "vols", "--", "sh", "-c", "echo $COLOUR").strip() == "blue"


def test_python_client_exec(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    apply(kubectl, ns, pod("py", ["sleep", "3600"]))
    wait_ready(kubectl, ns, "py", node)
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(node.kubeconfig), client_configuration=cfg)
    with client.ApiClient(cfg) as api:
        core = client.CoreV1Api(api)
        out = stream(core.connect_get_namespaced_pod_exec, "py", ns, command=["sh", "-c", "hostname; echo $((6*7))"],
                     stderr=True, stdin=False, stdout=True, tty=False)
    assert out.split() == ["py", "42"]



def test_kubectl_top_node_and_pod(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    apply(kubectl, ns, pod("spinner", ["sh", "-c", "while true; do :; done"],
                           container={"resources": {"limits": {"cpu": "200m", "memory": "32Mi"}}}))
    wait_ready(kubectl, ns, "spinner", node)

    def top_pod() -> tuple[int, str] | None:
        res = kubectl.run("-n", ns, "top", "pod", "spinner", "--no-headers", check=False)
        m = re.fullmatch(r"spinner\s+(\d+)m\s+(\d+Mi)\s*", res.stdout)
        return (int(m.group(1)), m.group(2)) if res.returncode == 0 and m else None

    # the CFS quota caps the busy loop at 200m; a sample window shows most of it
    millicores, _memory = wait_for(lambda: (t := top_pod()) and t[0] >= 100 and t, 60, "top pod >= 100m", node)
    assert millicores <= 260
    row = kubectl("top", "node", "--no-headers").split()
    assert row[0] == node.node_name and row[1].endswith("m") and row[3].endswith("Mi") and int(row[3][:-2]) > 0


def test_security_context_user_group_and_read_only_root(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    apply(kubectl, ns, pod("locked", ["sleep", "3600"], container={"securityContext": {
        "runAsUser": 1000, "runAsGroup": 3000, "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]}}}))
    wait_ready(kubectl, ns, "locked", node)
    ids = kubectl("-n", ns, "exec", "locked", "--", "id")
    assert "uid=1000" in ids and "gid=3000" in ids
    res = kubectl.run("-n", ns, "exec", "locked", "--", "touch", "/should-fail", check=False)
    assert res.returncode != 0 and "Read-only file system" in res.stderr
    caps = kubectl("-n", ns, "exec", "locked", "--", "sh", "-c", "grep CapEff /proc/self/status")
    assert caps.split()[1] == "0000000000000000"


def test_http_and_tcp_probes_and_downward_env(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    spec = pod("probed", HTTPD, container={
        "readinessProbe": {"httpGet": {"path": "/index.html", "port": 80}, "periodSeconds": 1},
        "livenessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1},
        "env": [{"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "MY_MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                      "divisor": "1Mi"}}}],
        "resources": {"limits": {"memory": "48Mi"}},
        "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]})
    spec["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    apply(kubectl, ns, spec)
    p = wait_ready(kubectl, ns, "probed", node)  # Ready only through the httpGet probe
    assert kubectl("-n", ns, "exec", "probed", "--", "sh", "-c", "echo $MY_POD_IP $MY_MEM").split() == \
        [p["status"]["podIP"], "48"]
    kubectl("-n", ns, "exec", "probed", "--", "sh", "-c", "echo kept > /scratch/f")
    # a tcpSocket liveness probe against a closed port restarts the container
    bad = pod("deaf", ["sleep", "3600"], container={"livenessProbe": {"tcpSocket": {"port": 81},
                                                                       "periodSeconds": 1, "failureThreshold": 1}})
    apply(kubectl, ns, bad)
    wait_for(lambda: container_status(get_pod(kubectl, ns, "deaf")).get("restartCount", 0) >= 1, 60,
             "a tcpSocket liveness restart", node)
    assert container_status(get_pod(kubectl, ns, "probed"))["restartCount"] == 0
    assert kubectl("-n", ns, "exec", "probed", "--", "cat", "/scratch/f") == "kept\n"


def test_host_port_answers_on_the_node_address(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    spec = pod("hp", HTTPD, container={"ports": [{"containerPort": 80, "hostPort": 18080}]})
    apply(kubectl, ns, spec)
    wait_ready(kubectl, ns, "hp", node)
    assert node.network is not None and node.node is not None
    # from the node network (the switch namespace), as another machine on the node network would
    out = subprocess.run(node.network.argv(None, ["busybox", "wget", "-qO-",
                                                  f"http://{node.node.ip}:18080/"]),
                         capture_output=True, text=True, timeout=30)
    assert "hello from pyk8s busybox" in out.stdout, out.stderr


def test_service_account_token_is_mounted_and_authenticates(kubectl: Kubectl, ns: str, node: NodeCluster) -> None:
    apply(kubectl, ns, pod("sa", ["sleep", "3600"]))
    wait_ready(kubectl, ns, "sa", node)
    base = "/var/run/secrets/kubernetes.io/serviceaccount"
    token = kubectl("-n", ns, "exec", "sa", "--", "cat", f"{base}/token")
    assert kubectl("-n", ns, "exec", "sa", "--", "cat", f"{base}/namespace") == ns
    ca = kubectl("-n", ns, "exec", "sa", "--", "cat", f"{base}/ca.crt")
    assert ca == (node.data_dir / "pki" / "ca.crt").read_text()
    # the projected token is a bound service-account token the apiserver accepts
    cfg = client.Configuration()
    cfg.host = f"https://127.0.0.1:{node.cluster.port if node.cluster else 0}"
    cfg.ssl_ca_cert = str(node.data_dir / "pki" / "ca.crt")
    cfg.api_key = {"authorization": token}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    with client.ApiClient(cfg) as api:
        review = client.AuthenticationV1Api(api).create_self_subject_review(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert review.status.user_info.username == f"system:serviceaccount:{ns}:default"


@pytest.mark.parametrize("binary", ["kubectl", KUBECTL_SPDY])
def test_exec_it_with_a_terminal(kubectl: Kubectl, ns: str, node: NodeCluster, binary: str) -> None:
    import pty

    apply(kubectl, ns, pod("term", ["sleep", "3600"]))
    wait_ready(kubectl, ns, "term", node)
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([binary, "--kubeconfig", str(node.kubeconfig), "-n", ns, "exec", "-it", "term", "--",
                             "sh"], stdin=secondary, stdout=secondary, stderr=secondary, close_fds=True)
    os.close(secondary)
    try:
        out = b""
        deadline = time.monotonic() + 30
        os.write(primary, b"tty; echo answer=$((6*7)); exit 7\n")
        while b"answer=42" not in out and time.monotonic() < deadline:
            try:
                out += os.read(primary, 4096)
            except OSError:  # the terminal closed: kubectl has exited
                break
        assert b"answer=42" in out and b"/dev/pts/" in out, out
        assert proc.wait(timeout=20) == 7
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        os.close(primary)
