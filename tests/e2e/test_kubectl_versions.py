"""The tutorial's kubectl commands, run with every kubectl version on the machine (1.27 ... 1.33 and PATH)."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Callable

from tests.conftest import Kubectl

DEPLOYMENT_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: applied
  labels: {app: applied}
spec:
  replicas: %(replicas)d
  selector: {matchLabels: {app: applied}}
  template:
    metadata: {labels: {app: applied}}
    spec:
      containers:
      - name: web
        image: %(image)s
        ports: [{containerPort: 80}]
"""


def wait_until(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


def test_version_and_discovery(any_kubectl: Kubectl) -> None:
    res = any_kubectl.run("version")
    # 1.27 prints the struct form (GitVersion:"v1.33.0+pyk8s"), later versions the short form.
    assert re.search(r'Server Version: (v1\.33\.0\+pyk8s|version\.Info\{.*GitVersion:"v1\.33\.0\+pyk8s")', res.stdout)
    resources = any_kubectl("api-resources")
    for line in ("deployments", "deploy", "apps/v1", "true", "Deployment"), ("pods", "po", "v1", "true", "Pod"):
        assert re.search(r"\s+".join(line), resources), line
    versions = any_kubectl("api-versions").split()
    assert "apps/v1" in versions and "v1" in versions and "autoscaling/v2" in versions


def test_create_get_describe_and_edit_verbs(any_kubectl: Kubectl, any_namespace: str, tmp_path) -> None:
    k, ns = any_kubectl, any_namespace
    n = ["-n", ns]
    assert "deployment.apps/web created" in k("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", *n)
    assert "service/web created" in k("create", "service", "clusterip", "web", "--tcp=80:80", *n)
    assert "configmap/cfg created" in k("create", "configmap", "cfg", "--from-literal=a=b", *n)
    assert "secret/sec created" in k("create", "secret", "generic", "sec", "--from-literal=p=q", *n)
    assert "job.batch/once created" in k("create", "job", "once", "--image=busybox", *n, "--", "true")
    assert "cronjob.batch/every created" in k("create", "cronjob", "every", "--image=busybox",
                                                "--schedule=*/1 * * * *", *n, "--", "true")
    assert "pod/solo created" in k("run", "solo", "--image=nginx", "--labels=app=solo,tier=fe", *n)
    assert "service/solo exposed" in k("expose", "pod", "solo", "--port=80", "--type=NodePort", *n)

    table = k("get", "deploy", *n)
    assert re.search(r"NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE", table)
    assert re.search(r"web\s+0/2\s+0\s+0\s+\d+s", table)
    wide = k("get", "deploy", "-o", "wide", *n)
    assert re.search(r"CONTAINERS\s+IMAGES\s+SELECTOR", wide) and "nginx:1.25" in wide and "app=web" in wide
    svc = k("get", "svc", "solo", *n)
    assert re.search(r"solo\s+NodePort\s+10\.\d+\.\d+\.\d+\s+<none>\s+80:3\d{4}/TCP", svc)
    obj = json.loads(k("get", "deploy", "web", "-o", "json", *n))
    assert obj["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == "25%"
    assert obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert "replicas: 2" in k("get", "deploy", "web", "-o", "yaml", *n)
    assert k("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}", *n) == "2"
    cc = k("get", "pods", "-o", "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image", *n)
    assert re.search(r"solo\s+nginx", cc)
    assert re.search(r"solo\s+0/1\s+Pending.*app=solo,tier=fe", k("get", "pods", "--show-labels", *n))
    all_ns = k("get", "pods", "-A")
    assert re.search(rf"{ns}\s+solo\s+0/1\s+Pending", all_ns)
    sorted_names = k("get", "cm", "--sort-by=.metadata.name", "-o", "name", *n).split()
    assert "configmap/cfg" in sorted_names
    k("get", "cm", "--sort-by=.metadata.creationTimestamp", *n)
    get_all = k("get", "all", *n)
    for kind in ("pod/solo", "service/web", "deployment.apps/web", "job.batch/once", "cronjob.batch/every"):
        assert kind in get_all, kind

    uid = k("get", "pod", "solo", "-o", "jsonpath={.metadata.uid}", *n)
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "solo.1", "namespace": ns},
             "involvedObject": {"kind": "Pod", "name": "solo", "namespace": ns, "uid": uid, "apiVersion": "v1"},
             "reason": "Pulling", "message": "Pulling image \"nginx\"", "type": "Normal", "count": 1,
             "source": {"component": "kubelet", "host": "node-a"},
             "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z"}
    k("create", "-f", "-", input=json.dumps(event))
    described = k("describe", "pod", "solo", *n)
    assert re.search(r"Normal\s+Pulling\s+.*kubelet.*Pulling image", described), described
    node_name = f"node-{ns}"
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node_name, "labels": {"kubernetes.io/hostname": node_name}},
            "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"}}}
    k("create", "-f", "-", input=json.dumps(node))
    assert f"Name:               {node_name}" in k("describe", "node", node_name)
    assert re.search(rf"{node_name}\s+(NotReady|Unknown)\s+<none>", k("get", "nodes"))
    k("delete", "node", node_name)
    d = k("describe", "deployment", "web", *n)
    assert "RollingUpdateStrategy:  25% max unavailable, 25% max surge" in d
    assert "Type:" in k("describe", "service", "web", *n)

    assert "labeled" in k("label", "deploy", "web", "tier=be", *n)
    assert "not labeled" in k("label", "deploy", "web", "tier=be", "--overwrite", *n)
    # kubectl 1.27 prints "annotate" (its own message), later versions "annotated".
    assert re.search(r"deployment.apps/web annotated?$", k("annotate", "deploy", "web", "note=hi", *n).strip())
    assert "scaled" in k("scale", "deploy", "web", "--replicas=3", *n)
    assert k("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}", *n) == "3"
    assert "scaled" in k("scale", "deploy", "web", "--replicas=4", "--current-replicas=3", *n)
    assert "image updated" in k("set", "image", "deploy/web", "nginx=nginx:1.26", *n)
    gen = k("get", "deploy", "web", "-o", "jsonpath={.metadata.generation}", *n)
    assert int(gen) >= 3
    assert "patched" in k("patch", "deploy", "web", "-p", '{"spec":{"replicas":1}}', *n)
    assert "patched (no change)" in k("patch", "deploy", "web", "-p", '{"spec":{"replicas":1}}', *n)
    assert "patched" in k("patch", "deploy", "web", "--type=merge", "-p", '{"metadata":{"labels":{"m":"1"}}}', *n)
    assert "patched" in k("patch", "deploy", "web", "--type=json",
                          "-p", '[{"op":"replace","path":"/spec/replicas","value":2}]', *n)
    assert k("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}", *n) == "2"

    manifest = tmp_path / "web.yaml"
    manifest.write_text(DEPLOYMENT_YAML % {"replicas": 1, "image": "nginx:1.25"})
    assert "deployment.apps/applied created" in k("apply", "-f", str(manifest), *n)
    manifest.write_text(DEPLOYMENT_YAML % {"replicas": 3, "image": "nginx:1.26"})
    assert "deployment.apps/applied configured" in k("apply", "-f", str(manifest), *n)
    assert "deployment.apps/applied unchanged" in k("apply", "-f", str(manifest), *n)
    got = json.loads(k("get", "deploy", "applied", "-o", "json", *n))
    assert got["spec"]["replicas"] == 3 and got["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"

    ssa = tmp_path / "ssa.yaml"
    ssa.write_text(DEPLOYMENT_YAML.replace("name: applied", "name: ssa") % {"replicas": 1, "image": "nginx:1"})
    assert "serverside-applied" in k("apply", "--server-side", "-f", str(ssa), *n)
    k("scale", "deploy", "ssa", "--replicas=5", *n)
    ssa.write_text(DEPLOYMENT_YAML.replace("name: applied", "name: ssa") % {"replicas": 2, "image": "nginx:1"})
    conflict = k.run("apply", "--server-side", "-f", str(ssa), *n, check=False)
    assert conflict.returncode != 0 and "conflict" in conflict.stderr.lower(), conflict.stderr
    assert "serverside-applied" in k("apply", "--server-side", "--force-conflicts", "-f", str(ssa), *n)

    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/replicas: 2/replicas: 7/' \"$1\"\n")
    editor.chmod(0o755)
    assert "edited" in k("edit", "deploy", "web", *n, env={"KUBE_EDITOR": str(editor), "EDITOR": str(editor)})
    assert k("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}", *n) == "7"

    live = json.loads(k("get", "cm", "cfg", "-o", "json", *n))
    live["data"]["a"] = "replaced"
    rep = tmp_path / "cm.json"
    rep.write_text(json.dumps(live))
    assert "configmap/cfg replaced" in k("replace", "-f", str(rep), *n)

    assert "horizontalpodautoscaler.autoscaling/web autoscaled" in k(
        "autoscale", "deploy", "web", "--min=1", "--max=3", "--cpu-percent=50", *n)
    assert re.search(r"web\s+Deployment/web\s+.*\s+1\s+3\s+", k("get", "hpa", *n))
    hpa_v2 = json.loads(k("get", "hpa.v2.autoscaling", "web", "-o", "json", *n))
    assert hpa_v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 50
    plain = re.sub(r"\x1b\[[0-9;]*m", "", k("cluster-info"))
    assert "Kubernetes control plane is running at https://127.0.0.1:" in plain
    if not k.binary.endswith("kubectl.1.27"):  # 1.27 asks for authentication.k8s.io/v1beta1, which we do not serve
        assert re.search(r"Username\s+kubernetes-admin", k("auth", "whoami"))
    can = k.run("auth", "can-i", "create", "pods", *n)
    assert can.stdout.strip() == "yes"
    explained = k("explain", "deployment.spec.replicas")
    assert "replicas" in explained and "integer" in explained


def test_delete_variants_and_watch(any_kubectl: Kubectl, any_namespace: str, tmp_path) -> None:
    k, ns = any_kubectl, any_namespace
    n = ["-n", ns]
    for name in ("a", "b", "c"):
        k("create", "configmap", name, "--from-literal=x=y", *n)
    k("label", "cm", "b", "c", "group=gone", *n)
    watcher = subprocess.Popen([k.binary, f"--cache-dir={k.cache}", "get", "cm", "-w", "--output-watch-events", *n],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=k.env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(watcher.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        wait_until(lambda: any(re.search(r"ADDED\s+c\b", line) for line in lines), "watch lists the configmaps")
        assert "configmap \"a\" deleted" in k("delete", "cm", "a", *n)
        assert "deleted" in k("delete", "cm", "-l", "group=gone", *n)
        assert k("get", "cm", "-l", "group=gone", "-o", "name", *n).strip() == ""
        f = tmp_path / "cm.yaml"
        f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fromfile}\ndata: {k: v}\n")
        k("create", "-f", str(f), *n)
        assert "deleted" in k("delete", "-f", str(f), *n)
        k("create", "deployment", "orphaned", "--image=nginx", *n)
        # Without the garbage collector (next issue) orphan/foreground deletes stay pending on their finalizer.
        assert "deleted" in k("delete", "deploy", "orphaned", "--cascade=orphan", "--wait=false", *n)
        assert k("get", "deploy", "orphaned", "-o", "jsonpath={.metadata.finalizers}", *n) == '["orphan"]'
        k("create", "deployment", "fg", "--image=nginx", *n)
        k("delete", "deploy", "fg", "--cascade=foreground", "--wait=false", *n)
        assert k("get", "deploy", "fg", "-o", "jsonpath={.metadata.finalizers}", *n) == '["foregroundDeletion"]'
        k("create", "deployment", "bg", "--image=nginx", *n)
        assert "deleted" in k("delete", "deploy", "bg", "--cascade=background", *n)
        k("create", "configmap", "waited", *n)
        k("delete", "cm", "waited", "--wait=false", *n)
        k("wait", "--for=delete", "cm/waited", "--timeout=20s", *n)
        wait_until(lambda: any(re.search(r"DELETED\s+waited\b", line) for line in lines), "watch sees the deletes")
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
        reader.join(timeout=10)
    out = "".join(lines)
    assert re.search(r"ADDED\s+a\b", out) and re.search(r"DELETED\s+a\b", out), out
    assert re.search(r"DELETED\s+fromfile\b", out), out
