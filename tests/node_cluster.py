"""A cluster with a real node for e2e tests: `pyk8s server` on the host's 127.0.0.1, one kubelet running real
runc containers inside a node network namespace, and a local registry that serves the test busybox image
as docker.io/library/busybox:e2e (through a registry mirror).

Topology (no cluster address in the host namespace): a switch namespace with the node network, one namespace
for the node; the kubelet enters it itself (`--netns`) and still dials the API server and the registry on the
host's 127.0.0.1; the apiserver dials the kubelet from the switch namespace (`--kubelet-netns`).

The node's disk: with `disk="tmpfs"` (the default) the node's directory (kubelet root, runtime state with the
containers' overlay layers, images, pod logs) and its run directory (runc's state; a machine's /run is a tmpfs)
are tmpfs mounts of their own, as a kind node's file system is its own. This VM's root file system is an ext4
without a journal, where creating a file or directory costs 0.3-0.8 ms of kernel CPU once files churn (ext4
reads the inode table to skip recently deleted inodes), and a pod creates some 60 of them: on that disk the
node's start-up figures measure the disk more than pyk8s. `disk="host"` keeps everything on the host's disk.

`stop()` tears everything down even after a failure: the kubelet (by PID), its containers, shims, mounts,
pod namespaces and cgroups (pyk8s.kubelet.reset), the node network, the registry, the control plane and the
node's tmpfs mounts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyk8s.kubelet.localnet import Node, NodeNetwork
from pyk8s.kubelet.reset import NodeDirs, reset_node
from pyk8s.pki.bootstrap import ensure_component_identity
from tests.cluster_process import REPO, ClusterProcess
from tests.images import build_busybox_image, push_image
from tests.registry import Registry, start_registry

IMAGE = "busybox:e2e"


@dataclass
class NodeCluster:
    base: Path
    node_name: str = "node-1"
    server_args: list[str] = field(default_factory=list)
    kubelet_args: list[str] = field(default_factory=list)
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    disk: str = "tmpfs"  # or "host" (see the module docstring)
    cluster: ClusterProcess | None = None
    network: NodeNetwork | None = None
    node: Node | None = None
    registry: Registry | None = None
    kubelet: subprocess.Popen[bytes] | None = None
    _registry_cm: Any = None
    _tmpfs: list[str] = field(default_factory=list)

    # ---- paths ----
    @property
    def data_dir(self) -> Path:
        return self.base / "cp"

    @property
    def node_dir(self) -> Path:
        return self.base / "node"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def kubelet_log(self) -> Path:
        return self.base / "kubelet.log"

    @property
    def cgroup_root(self) -> str:
        return f"/pyk8s-e2e-{self.suffix}/{self.node_name}"

    @property
    def run_dir(self) -> str:
        """The node's /run: runc's state lives here."""
        return f"/run/pyk8s-e2e-{self.suffix}"

    @property
    def runc_root(self) -> str:
        return f"{self.run_dir}/runc"

    def node_dirs(self) -> NodeDirs:
        assert self.node is not None
        return NodeDirs(runc_root=self.runc_root, runtime_dir=str(self.node_dir / "runtime"),
                        cgroup_root=f"/pyk8s-e2e-{self.suffix}", mount_roots=[str(self.node_dir)],
                        netns_prefix=f"{self.node.netns}-")

    # ---- lifecycle ----
    def start(self, timeout: float = 90.0) -> NodeCluster:
        if self.disk not in ("tmpfs", "host"):
            raise ValueError(f"disk must be tmpfs or host, not {self.disk!r}")
        self.base.mkdir(parents=True, exist_ok=True)
        try:
            if self.disk == "tmpfs":
                for directory in (str(self.node_dir), self.run_dir):
                    self._mount_tmpfs(directory)
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout: float) -> None:
        self.network = NodeNetwork(suffix=self.suffix).start()
        self.node = self.network.add_node(self.node_name)
        self._registry_cm = start_registry(self.base / "registry")
        self.registry = self._registry_cm.__enter__()
        image = build_busybox_image(self.base / "image")
        push_image(self.registry.url, "library/busybox", "e2e", image)
        (self.base / "registries.yaml").write_text(
            f"mirrors:\n  docker.io:\n    endpoint:\n      - {self.registry.url}\n")
        self.cluster = ClusterProcess(self.data_dir, hollow_nodes=0, server_args=[
            "--kubelet-netns", self.network.switch_netns_path, *self.server_args]).start()
        self.start_kubelet()
        self.wait_node_ready(timeout)

    def kubelet_argv(self) -> list[str]:
        assert self.node is not None
        kubeconfig = ensure_component_identity(self.data_dir, f"kubelet-{self.node_name}",
                                               f"system:node:{self.node_name}", ["system:nodes"])
        return [sys.executable, "-m", "pyk8s.cmd.main", "kubelet", "--kubeconfig", str(kubeconfig),
                "--netns", self.node.netns_path, "--hostname-override", self.node_name, "--node-ip", self.node.ip,
                "--root-dir", str(self.node_dir / "kubelet"), "--pod-logs-dir", str(self.node_dir / "pods-logs"),
                "--runtime-dir", str(self.node_dir / "runtime"), "--runc-root", self.runc_root,
                "--image-dir", str(self.node_dir / "images"), "--registries", str(self.base / "registries.yaml"),
                "--cgroup-root", self.cgroup_root, "--client-ca-file", str(self.data_dir / "pki" / "ca.crt"),
                "--node-status-update-frequency", "2s", *self.kubelet_args]

    def start_kubelet(self) -> None:
        log = open(self.kubelet_log, "ab")
        try:
            self.kubelet = subprocess.Popen(self.kubelet_argv(), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                            env={**os.environ, "PYTHONPATH": str(REPO)})
        finally:
            log.close()

    def kill_kubelet(self) -> None:
        if self.kubelet is not None and self.kubelet.poll() is None:
            self.kubelet.send_signal(signal.SIGKILL)
            self.kubelet.wait(timeout=20)

    def stop_kubelet(self) -> None:
        if self.kubelet is not None and self.kubelet.poll() is None:
            self.kubelet.send_signal(signal.SIGTERM)
            try:
                self.kubelet.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kubelet.kill()
                self.kubelet.wait(timeout=20)

    def stop(self) -> None:
        problems: list[str] = []
        with contextlib.suppress(Exception):
            self.stop_kubelet()
        if self.node is not None:
            try:
                problems += reset_node(self.node_dirs())
            except Exception as e:  # keep tearing down; report at the end
                problems.append(f"reset: {e}")
        if self.network is not None:
            try:
                self.network.close()
            except Exception as e:
                problems.append(f"network: {e}")
        if self.cluster is not None:
            try:
                self.cluster.stop()
            except Exception as e:
                problems.append(f"control plane: {e}")
        if self._registry_cm is not None:
            try:
                self._registry_cm.__exit__(None, None, None)
            except Exception as e:
                problems.append(f"registry: {e}")
            self._registry_cm = None
        while self._tmpfs:  # reset_node has unmounted the node dir's own tmpfs already (everything under it)
            directory = self._tmpfs.pop()
            if os.path.ismount(directory) and subprocess.run(["umount", directory], capture_output=True,
                                                             check=False).returncode != 0:
                problems.append(f"tmpfs {directory} still mounted")
        with contextlib.suppress(OSError):
            os.rmdir(self.runc_root)
        with contextlib.suppress(OSError):
            os.rmdir(self.run_dir)
        if problems:
            raise RuntimeError("node clean-up left: " + "; ".join(problems))

    # ---- helpers ----
    def _mount_tmpfs(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self._tmpfs.append(directory)  # first: stop() unmounts it even if mount is killed after mounting
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=4g", f"pyk8s-node-{self.suffix}", directory],
                       check=True, capture_output=True, timeout=30)

    def kubectl(self, *args: str, kubectl: str = "kubectl", timeout: float = 60, check: bool = True,
                input: bytes | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([kubectl, "--kubeconfig", str(self.kubeconfig), *args], capture_output=True,
                              timeout=timeout, input=input.decode() if input is not None else None, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}\n"
                                 f"{self.logs()}")
        return proc

    def wait_node_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.kubelet is not None and self.kubelet.poll() is not None:
                raise RuntimeError(f"kubelet exited ({self.kubelet.returncode}):\n{self.logs()}")
            out = self.kubectl("get", "node", self.node_name, "-o",
                               "jsonpath={.status.conditions[?(@.type=='Ready')].status}", check=False)
            if out.returncode == 0 and out.stdout.strip() == "True":
                return
            time.sleep(0.2)
        raise RuntimeError(f"node {self.node_name} not Ready after {timeout}s:\n{self.logs()}")

    def logs(self) -> str:
        parts = [self.cluster.logs() if self.cluster else ""]
        if self.kubelet_log.exists():
            parts.append("kubelet:\n" + self.kubelet_log.read_text(errors="replace")[-6000:])
        return "\n---\n".join(parts)
