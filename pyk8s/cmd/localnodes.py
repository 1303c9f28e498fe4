"""The node side of `pyk8s up` / `pyk8s down`: local nodes in their own network namespaces, and the demo.

`up` builds the node network (pyk8s.kubelet.localnet: a switch namespace plus one namespace per node, no
cluster address in the host's namespace), gives each node a kubelet identity, imports the busybox demo image
into the node's image store (no registry or network needed), starts one detached `pyk8s kubelet --netns` per
node and, once the nodes are Ready, applies the demo Deployment. `down` stops the kubelets by their recorded
PIDs, then removes their containers, mounts, pod namespaces and cgroups (pyk8s.kubelet.reset) and the node
network. Everything a node owns lives under D/nodes/<name>; the network's state is D/network.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from pyk8s.kubelet.cri.runc import cgroups
from pyk8s.kubelet.cri.runc.images.busybox import build_busybox_image, docker_save_tar
from pyk8s.kubelet.cri.runc.images.store import ImageStore
from pyk8s.kubelet.localnet import Node, NodeNetwork
from pyk8s.kubelet.reset import NodeDirs, reset_node
from pyk8s.pki.bootstrap import ensure_component_identity

NETWORK_STATE = "network.json"
DEMO_IMAGE = "docker.io/library/busybox:demo"
DEMO_NAMESPACE = "default"
DEMO_NAME = "hello"
CGROUP_PARENT = "/pyk8s"


def demo_deployment() -> dict[str, object]:
    """Two busybox httpd pods that serve a page naming the pod and log every request."""
    script = ('mkdir -p /tmp/www && echo "hello from $(hostname)" > /tmp/www/index.html && '
              'echo "serving on :8080" && exec httpd -f -vv -p 8080 -h /tmp/www')
    container = {"name": "web", "image": "busybox:demo", "command": ["sh", "-c", script],
                 "ports": [{"containerPort": 8080}],
                 "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 2},
                 "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": DEMO_NAME, "namespace": DEMO_NAMESPACE, "labels": {"app": DEMO_NAME}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": DEMO_NAME}},
                     "template": {"metadata": {"labels": {"app": DEMO_NAME}}, "spec": {"containers": [container]}}}}


@dataclass
class LocalNode:
    data_dir: Path
    name: str
    suffix: str  # the node network's: keeps two local clusters' runc roots and cgroups apart

    @property
    def dir(self) -> Path:
        return self.data_dir / "nodes" / self.name

    @property
    def pid_file(self) -> Path:
        return self.dir / "kubelet.pid"

    @property
    def log_file(self) -> Path:
        return self.dir / "kubelet.log"

    @property
    def runc_root(self) -> str:
        return f"/run/pyk8s/{self.suffix}-{self.name}/runc"

    @property
    def cgroup_root(self) -> str:
        return f"{CGROUP_PARENT}/{self.suffix}-{self.name}"

    def reset_dirs(self, netns_name: str) -> NodeDirs:
        return NodeDirs(runc_root=self.runc_root, runtime_dir=str(self.dir / "runtime"), cgroup_root=self.cgroup_root,
                        mount_roots=[str(self.dir)], netns_prefix=f"{netns_name}-")

    def kubelet_argv(self, kubeconfig: Path, netns_path: str, ip: str) -> list[str]:
        return [sys.executable, "-m", "pyk8s.cmd.main", "kubelet", "--kubeconfig", str(kubeconfig),
                "--netns", netns_path, "--hostname-override", self.name, "--node-ip", ip,
                "--root-dir", str(self.dir / "kubelet"), "--pod-logs-dir", str(self.dir / "log" / "pods"),
                "--runtime-dir", str(self.dir / "runtime"), "--runc-root", self.runc_root,
                "--image-dir", str(self.dir / "images"), "--cgroup-root", self.cgroup_root,
                "--client-ca-file", str(self.data_dir / "pki" / "ca.crt")]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_pid(pid: int, timeout: float) -> None:
    """SIGTERM the process we started, wait up to `timeout` seconds, then SIGKILL it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _kubelet_pid(node: LocalNode) -> int | None:
    try:
        pid = int(node.pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    # the exact --root-dir argument, so pyk8s-node-1 never matches pyk8s-node-10's kubelet
    return pid if b"\0" + str(node.dir / "kubelet").encode() + b"\0" in cmdline else None


def ensure_network(data_dir: Path, nodes: int) -> tuple[NodeNetwork, list[LocalNode]]:
    state = data_dir / NETWORK_STATE
    if state.exists():
        network = NodeNetwork.load(str(state))
        if os.path.exists(network.switch_netns_path):
            return network, [LocalNode(data_dir, n.name, network.suffix) for n in network.nodes.values()]
        network.close()
    network = NodeNetwork(state_path=str(state)).start()
    for i in range(1, nodes + 1):
        network.add_node(f"pyk8s-node-{i}")
    return network, [LocalNode(data_dir, n.name, network.suffix) for n in network.nodes.values()]


def _demo_image_archive(workdir: Path) -> Path:
    """The busybox demo image as a `docker save` archive, built once for all the nodes."""
    image = build_busybox_image(workdir / "image")
    return docker_save_tar(workdir / "busybox.tar", image, [DEMO_IMAGE])


def start_kubelets(data_dir: Path, network: NodeNetwork, nodes: list[LocalNode]) -> dict[str, subprocess.Popen[bytes]]:
    """Start the kubelets not already running; returns the processes started, by node name."""
    started: dict[str, subprocess.Popen[bytes]] = {}
    by_name = network.nodes
    with tempfile.TemporaryDirectory(prefix="pyk8s-demo-image-") as tmp:
        archive: Path | None = None
        for node in nodes:
            if _kubelet_pid(node) is not None:
                click.echo(f"kubelet {node.name} already running")
                continue
            node.dir.mkdir(parents=True, exist_ok=True)
            archive = archive or _demo_image_archive(Path(tmp))
            asyncio.run(ImageStore(str(node.dir / "images")).import_archive(str(archive)))
            started[node.name] = _start_kubelet(data_dir, node, by_name[node.name])
    return started


def _start_kubelet(data_dir: Path, node: LocalNode, net: Node) -> subprocess.Popen[bytes]:
    """One detached `pyk8s kubelet --netns` with its own identity; its PID goes to the node dir."""
    kubeconfig = ensure_component_identity(data_dir, f"kubelet-{node.name}", f"system:node:{node.name}",
                                           ["system:nodes"])
    with open(node.log_file, "ab") as log:
        proc = subprocess.Popen(node.kubelet_argv(kubeconfig, net.netns_path, net.ip), stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    node.pid_file.write_text(str(proc.pid))
    click.echo(f"started kubelet {node.name} (pid {proc.pid}, node IP {net.ip}), log {node.log_file}")
    return proc


def _api_get(url: str, kubeconfig: Path) -> dict[str, Any] | None:
    from pyk8s.client.kubeconfig import load_client_config

    cfg = load_client_config(str(kubeconfig))
    try:
        req = urllib.request.Request(url)
        ctx = cfg.ssl_context or ssl.create_default_context()
        with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
            return json.loads(resp.read())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def wait_nodes_ready(server: str, kubeconfig: Path, nodes: list[LocalNode], timeout: float,
                     started: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout
    pending = {n.name for n in nodes}
    while pending:
        for node in nodes:
            if node.name not in pending:
                continue
            proc = started.get(node.name)
            code = proc.poll() if proc is not None else (None if _kubelet_pid(node) else "?")
            if code is not None:
                tail = node.log_file.read_text(errors="replace")[-2000:] if node.log_file.exists() else ""
                raise click.ClickException(f"kubelet {node.name} exited during start-up (status {code}); "
                                           f"log tail:\n{tail}")
            obj = _api_get(f"{server}/api/v1/nodes/{node.name}", kubeconfig) or {}
            conditions = (obj.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
                pending.discard(node.name)
        if not pending:
            return
        if time.monotonic() > deadline:
            raise click.ClickException(f"nodes not Ready after {timeout:.0f}s: {', '.join(sorted(pending))}")
        time.sleep(0.3)


def apply_demo(kubeconfig: Path) -> None:
    """Create the demo Deployment unless it exists (kubectl's create semantics through our own client)."""
    from pyk8s.api import errors
    from pyk8s.client.kinds import DEPLOYMENTS
    from pyk8s.client.kubeconfig import load_client_config
    from pyk8s.client.rest import RESTClient

    async def create() -> None:
        client = RESTClient(load_client_config(str(kubeconfig)))
        try:
            await client.create(DEPLOYMENTS, demo_deployment(), DEMO_NAMESPACE)
        except errors.AlreadyExists:
            pass
        finally:
            await client.close()

    asyncio.run(create())


def stop_nodes(data_dir: Path, timeout: float = 30.0) -> list[str]:
    """Stop every local kubelet, remove its containers and the node network; returns what could not be removed."""
    state = data_dir / NETWORK_STATE
    if not state.exists():
        return []
    network = NodeNetwork.load(str(state))
    left: list[str] = []
    for net in list(network.nodes.values()):
        node = LocalNode(data_dir, net.name, network.suffix)
        pid = _kubelet_pid(node)
        if pid is not None:
            stop_pid(pid, timeout)
            click.echo(f"stopped kubelet {node.name} (pid {pid})")
        node.pid_file.unlink(missing_ok=True)
        left += reset_node(node.reset_dirs(net.netns))
        for empty in (node.runc_root, os.path.dirname(node.runc_root)):
            with contextlib.suppress(OSError):
                os.rmdir(empty)
    network.close()
    for parent in (*cgroups.controller_dirs(CGROUP_PARENT), "/run/pyk8s"):
        with contextlib.suppress(OSError):
            os.rmdir(parent)  # only when no other node is left under it
    return left
