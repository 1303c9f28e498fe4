"""The Node this kubelet registers and keeps current, and its Lease in kube-node-lease.

Registration creates the Node (labels kubernetes.io/hostname|os|arch and their beta.kubernetes.io twins,
capacity measured on this machine, allocatable = capacity minus reservations and hard-eviction thresholds,
addresses, daemonEndpoints, nodeInfo, the healthy conditions, the images on the node), or adopts an existing
Node of that name (fixing its labels). Every `node_status_update_frequency` (10 s) the status is recomputed and
PATCHed when it changed, or at least every `node_status_report_frequency` (5 min). The Lease is renewed every
lease duration / 4 (10 s for 40 s), with retries backing off from 200 ms to 7 s as upstream's controller does.
Condition names, reasons and messages come from hollow.py (one table for both kinds of kubelet).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import platform
import socket
from decimal import Decimal

from pyk8s.api import errors, meta
from pyk8s.api.quantity import parse_quantity
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.interface import Client, Obj
from pyk8s.client.kinds import LEASES, NODES
from pyk8s.kubelet.config import KubeletConfig
from pyk8s.kubelet.cri import interface as cri
from pyk8s.kubelet.hollow import KUBELET_VERSION, NODE_LEASE_NAMESPACE, lease_object, node_conditions

log = logging.getLogger("pyk8s.kubelet.nodestatus")

LEASE_RETRY_INITIAL = 0.2
LEASE_RETRY_MAX = 7.0
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
         "ppc64le": "ppc64le", "s390x": "s390x"}


def go_arch() -> str:
    m = platform.machine().lower()
    return _ARCH.get(m, m)


def node_labels(config: KubeletConfig) -> dict[str, str]:
    arch = go_arch()
    labels = {"kubernetes.io/hostname": config.node_name, "kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
              "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": arch}
    labels.update(config.node_labels)
    return labels


def _meminfo_kib(path: str = "/proc/meminfo") -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine_capacity(root_dir: str, max_pods: int) -> dict[str, str]:
    """cpu, memory (Ki), pods, ephemeral-storage (Ki, of the filesystem holding root_dir), hugepages."""
    path = root_dir
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    st = os.statvfs(path)
    return {"cpu": str(os.cpu_count() or 1), "memory": f"{_meminfo_kib()}Ki", "pods": str(max_pods),
            "ephemeral-storage": f"{st.f_blocks * st.f_frsize // 1024}Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0"}


def _threshold(value: str, capacity: Decimal) -> Decimal:
    if value.endswith("%"):
        return capacity * Decimal(value[:-1]) / 100
    return parse_quantity(value)


def allocatable(capacity: dict[str, str], config: KubeletConfig) -> dict[str, str]:
    """capacity - kubeReserved - systemReserved - hard eviction thresholds (memory.available, nodefs.available)."""
    out = dict(capacity)
    for resource in ("cpu", "memory", "ephemeral-storage", "pods"):
        if resource not in capacity:
            continue
        cap = parse_quantity(capacity[resource])
        reserved = sum((parse_quantity(r[resource]) for r in (config.kube_reserved, config.system_reserved)
                        if resource in r), Decimal(0))
        signal = {"memory": "memory.available", "ephemeral-storage": "nodefs.available"}.get(resource)
        if signal and signal in config.eviction_hard:
            reserved += _threshold(config.eviction_hard[signal], cap)
        value = max(cap - reserved, Decimal(0))
        if resource == "cpu":
            millis = int(value * 1000)
            out[resource] = str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"
        elif resource == "memory":
            out[resource] = f"{int(value) // 1024}Ki" if int(value) % 1024 == 0 else str(int(value))
        else:
            out[resource] = str(int(value))
    return out


def images_status(images: list[cri.Image], limit: int) -> list[Obj]:
    """status.images: names (digests then tags) and size, biggest first, at most `limit`."""
    out = []
    for image in sorted(images, key=lambda i: i.size, reverse=True)[:limit]:
        names = [*image.repo_digests, *image.repo_tags]
        if names:
            out.append({"names": names, "sizeBytes": image.size})
    return out


def _file(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _os_image() -> str:
    for line in _file("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Linux"


def node_info(runtime_version: cri.RuntimeVersion, node_name: str) -> Obj:
    machine_id = _file("/etc/machine-id") or hashlib.sha256(node_name.encode()).hexdigest()[:32]
    # Several node "machines" share one host in tests: make the ids per node.
    ident = hashlib.sha256(f"{machine_id}/{node_name}".encode()).hexdigest()
    boot = _file("/proc/sys/kernel/random/boot_id").replace("-", "") or ident[:32]
    return {
        "machineID": ident[:32],
        "systemUUID": f"{ident[:8]}-{ident[8:12]}-{ident[12:16]}-{ident[16:20]}-{ident[20:32]}",
        "bootID": boot,
        "kernelVersion": platform.release(),
        "osImage": _os_image(),
        "containerRuntimeVersion": f"{runtime_version.runtime_name}://{runtime_version.runtime_version}",
        "kubeletVersion": KUBELET_VERSION,
        "kubeProxyVersion": "",
        "operatingSystem": "linux",
        "architecture": go_arch(),
    }


def node_addresses(config: KubeletConfig) -> list[Obj]:
    ip = config.node_ip
    if not ip:
        try:
            ip = socket.gethostbyname(config.node_name)
        except OSError:
            ip = "127.0.0.1"
    return [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": config.node_name}]


class NodeStatusManager:
    """Registers the Node, posts its status and renews its Lease (see the module docstring)."""

    def __init__(self, client: Client, config: KubeletConfig, runtime: cri.RuntimeService, images: cri.ImageService,
                 *, clock: Clock = REAL_CLOCK, capacity: dict[str, str] | None = None) -> None:
        self.client = client
        self.config = config
        self.runtime = runtime
        self.images = images
        self.clock = clock
        self.capacity = capacity or machine_capacity(config.root_dir, config.max_pods)
        self.node: Obj | None = None
        self.node_uid = ""
        self._lease: Obj | None = None
        self._last_posted: Obj | None = None
        self._last_post_time: float | None = None
        self.registered = asyncio.Event()

    @property
    def name(self) -> str:
        return self.config.node_name

    @property
    def node_ip(self) -> str:
        return next(a["address"] for a in node_addresses(self.config) if a["type"] == "InternalIP")

    async def build_status(self, previous: Obj | None) -> Obj:
        now = meta.now_rfc3339(self.clock.now())
        version = await self.runtime.version()
        images = await self.images.list_images()
        prev_conditions = ((previous or {}).get("status") or {}).get("conditions")
        return {
            "capacity": dict(self.capacity),
            "allocatable": allocatable(self.capacity, self.config),
            "conditions": node_conditions(now, prev_conditions),
            "addresses": node_addresses(self.config),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.config.kubelet_port}},
            "nodeInfo": node_info(version, self.name),
            "images": images_status(images, self.config.node_status_max_images),
        }

    async def node_object(self) -> Obj:
        spec: Obj = {}
        if self.config.pod_cidr:
            spec["podCIDR"] = self.config.pod_cidr
            spec["podCIDRs"] = [self.config.pod_cidr]
        if self.config.register_with_taints:
            spec["taints"] = [dict(t) for t in self.config.register_with_taints]
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name, "labels": node_labels(self.config),
                             "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
                "spec": spec, "status": await self.build_status(None)}

    async def register(self) -> Obj:
        """Create the Node, or adopt the existing one (labels fixed, status posted)."""
        wanted = await self.node_object()
        try:
            node = await self.client.create(NODES, wanted)
        except errors.AlreadyExists:
            node = await self.client.get(NODES, self.name)
            labels = meta.labels_of(node)
            missing = {k: v for k, v in node_labels(self.config).items() if labels.get(k) != v}
            if missing:
                node = await self.client.patch(NODES, self.name, {"metadata": {"labels": missing}})
            node = await self._patch_status(node, await self.build_status(node))
        self.node = node
        self.node_uid = str(meta.meta(node).get("uid") or "")
        self._last_posted = node.get("status")
        self._last_post_time = self.clock.monotonic()
        self.registered.set()
        return node

    async def register_until_done(self) -> Obj:
        delay = 0.1
        while True:
            try:
                return await self.register()
            except (errors.StatusError, ConnectionError, cri.CRIError) as e:
                log.warning("node %s: unable to register, retrying in %.1fs: %s", self.name, delay, e)
            await self.clock.sleep(delay)
            delay = min(delay * 2, 7.0)

    async def _patch_status(self, node: Obj, status: Obj) -> Obj:
        return await self.client.patch(NODES, self.name, {"status": status}, patch_type="strategic",
                                       subresource="status")

    async def post_status(self) -> bool:
        """Recompute the status; PATCH it when it changed or the report interval passed. True if posted."""
        node = await self.client.get(NODES, self.name)
        status = await self.build_status(node)
        previous = node.get("status") or {}
        changed = {k: v for k, v in status.items() if k != "conditions"} != \
            {k: previous.get(k) for k in status if k != "conditions"} or \
            [(c["type"], c["status"]) for c in status["conditions"]] != \
            [(c.get("type"), c.get("status")) for c in previous.get("conditions") or []]
        due = self._last_post_time is None or \
            self.clock.monotonic() - self._last_post_time >= self.config.node_status_report_frequency
        if not changed and not due:
            return False
        self.node = await self._patch_status(node, status)
        self._last_post_time = self.clock.monotonic()
        return True

    async def renew_lease(self) -> None:
        renew = meta.now_micro(self.clock.now())
        duration = self.config.node_lease_duration_seconds
        lease = self._lease
        if lease is None:
            try:
                self._lease = await self.client.create(
                    LEASES, lease_object(self.name, self.node_uid, duration, renew), NODE_LEASE_NAMESPACE)
                return
            except errors.AlreadyExists:
                lease = await self.client.get(LEASES, self.name, NODE_LEASE_NAMESPACE)
        new = meta.copy(lease)
        new.setdefault("spec", {}).update(holderIdentity=self.name, leaseDurationSeconds=duration, renewTime=renew)
        if self.node_uid and not meta.meta(new).get("ownerReferences"):
            new["metadata"]["ownerReferences"] = lease_object(self.name, self.node_uid, 0, "")["metadata"][
                "ownerReferences"]
        try:
            self._lease = await self.client.update(LEASES, new)
        except (errors.Conflict, errors.NotFound):
            self._lease = None
            raise

    async def lease_loop(self) -> None:
        interval = self.config.node_lease_duration_seconds / 4
        while True:
            delay = LEASE_RETRY_INITIAL
            while True:
                try:
                    await self.renew_lease()
                    break
                except (errors.StatusError, ConnectionError) as e:
                    log.warning("node %s: failed to renew lease, retrying in %.1fs: %s", self.name, delay, e)
                    await self.clock.sleep(delay)
                    delay = min(delay * 2, LEASE_RETRY_MAX)
            await self.clock.sleep(interval)

    async def status_loop(self) -> None:
        while True:
            await self.clock.sleep(self.config.node_status_update_frequency)
            try:
                await self.post_status()
            except (errors.StatusError, ConnectionError, cri.CRIError) as e:
                log.warning("node %s: error updating node status: %s", self.name, e)
