"""Hollow nodes (kubemark/kwok style): thousands of simulated kubelets in one process, for scale and failure tests.

Each hollow node does what a kubelet does on the API and nothing on the machine: it registers its Node (labels,
capacity, conditions, addresses, nodeInfo), renews its Lease in kube-node-lease every `heartbeat_interval`,
posts node status every `status_update_frequency`, and writes the status a kubelet would for every pod bound
to it: Running with an IP from the node's spec.podCIDR (or the node IP for hostNetwork pods), containers
running, then, for restartPolicy Never/OnFailure, Succeeded after `pod_run_seconds`. No container runs and no
address is ever used for traffic (node addresses come from 10.254.0.0/16 by default).

Annotations that steer a hollow node (values are strings):

- Pod ``hollow.pyk8s.io/run-seconds: "S"``  — the containers run S seconds instead of `pod_run_seconds`
  (restartPolicy Never/OnFailure only; Always pods keep running).
- Pod ``hollow.pyk8s.io/exit-code: "N"``    — the containers exit with code N. N != 0: reason Error; with
  restartPolicy Never the pod becomes Failed; with OnFailure the containers restart (restartCount + 1, upstream
  CrashLoopBackOff delays of 10 s doubling to 300 s) and fail again.
- Pod ``hollow.pyk8s.io/ignore-sigterm: "true"`` — on deletion the containers keep running for the pod's
  deletionGracePeriodSeconds (then are killed: exit code 137, reason Error) instead of stopping at once.
- Node ``hollow.pyk8s.io/heartbeat: "stopped"`` — the node stops renewing its Lease, posting node status and
  touching its pods (a dead kubelet, for node-failure tests). Removing the annotation resumes all three.

Scale: one pod informer and one node informer serve every hollow node (events are filtered by node name);
lease renewals and status posts are spread evenly over their intervals; at most `concurrency` of those and
`pod_workers` pod writes are in flight at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pyk8s.api import errors, meta
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.informer import SharedInformerFactory, strip_managed_fields
from pyk8s.client.interface import Client, InformerFactory, Obj, object_key, split_key
from pyk8s.client.kinds import LEASES, NODES, PODS
from pyk8s.client.kubeconfig import load_client_config
from pyk8s.client.rest import RESTClient
from pyk8s.client.workqueue import ItemExponentialFailureRateLimiter, QueueShutDown, RateLimitingQueue

log = logging.getLogger("pyk8s.kubelet.hollow")

ANNOTATION_RUN_SECONDS = "hollow.pyk8s.io/run-seconds"
ANNOTATION_EXIT_CODE = "hollow.pyk8s.io/exit-code"
ANNOTATION_IGNORE_SIGTERM = "hollow.pyk8s.io/ignore-sigterm"
ANNOTATION_HEARTBEAT = "hollow.pyk8s.io/heartbeat"
HEARTBEAT_STOPPED = "stopped"
LABEL_HOLLOW = "node.pyk8s.io/hollow"

NODE_LEASE_NAMESPACE = "kube-node-lease"
KUBELET_VERSION = "v1.33.0+pyk8s"
CONTAINER_RUNTIME_VERSION = "hollow://1.0"
KERNEL_VERSION = "6.1.0-hollow"
OS_IMAGE = "pyk8s hollow node"
KUBELET_PORT = 10250
DEFAULT_CAPACITY: dict[str, str] = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"}
DEFAULT_NODE_IP_RANGE = "10.254.0.0/16"
NODE_NAME_INDEX = "spec.nodeName"

# Upstream kubelet container restart backoff (CrashLoopBackOff): 10 s doubling, capped at 300 s.
RESTART_BACKOFF_BASE = 10.0
RESTART_BACKOFF_MAX = 300.0
KILLED_EXIT_CODE = 137
WAIT_FOR_CIDR_SECONDS = 5.0
REGISTER_BACKOFF_MAX = 7.0

# Node conditions a kubelet posts, in upstream's order, with its reasons and messages when healthy.
NODE_CONDITIONS: tuple[tuple[str, str, str, str], ...] = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


# ---------------------------------------------------------------------------------------------- pure builders


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def node_labels(name: str) -> dict[str, str]:
    return {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        LABEL_HOLLOW: "true",
        "type": "hollow",
    }


def node_conditions(now: str, previous: list[Obj] | None = None) -> list[Obj]:
    """The healthy conditions, heartbeat `now`; lastTransitionTime carries over while a status is unchanged."""
    before = {c.get("type"): c for c in previous or []}
    out = []
    for type_, status, reason, message in NODE_CONDITIONS:
        old = before.get(type_)
        since = old.get("lastTransitionTime") if old and old.get("status") == status else None
        out.append({"type": type_, "status": status, "lastHeartbeatTime": now,
                    "lastTransitionTime": since or now, "reason": reason, "message": message})
    return out


def node_status(name: str, ip: str, capacity: dict[str, str], now: str, previous: list[Obj] | None = None) -> Obj:
    ident = _digest("hollow-node", name)
    return {
        "capacity": dict(capacity),
        "allocatable": dict(capacity),
        "conditions": node_conditions(now, previous),
        "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
        "nodeInfo": {
            "machineID": ident[:32],
            "systemUUID": f"{ident[:8]}-{ident[8:12]}-{ident[12:16]}-{ident[16:20]}-{ident[20:32]}",
            "bootID": _digest("boot", name)[:32],
            "kernelVersion": KERNEL_VERSION,
            "osImage": OS_IMAGE,
            "containerRuntimeVersion": CONTAINER_RUNTIME_VERSION,
            "kubeletVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    }


def node_object(name: str, ip: str, capacity: dict[str, str], now: str) -> Obj:
    """The Node a hollow kubelet registers (status included, as the kubelet sends it)."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": node_labels(name),
                     "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {},
        "status": node_status(name, ip, capacity, now),
    }


def lease_object(name: str, node_uid: str, duration: int, renew_time: str) -> Obj:
    """The node Lease: holder is the node, owned by the Node so it goes when the Node goes."""
    lease: Obj = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": NODE_LEASE_NAMESPACE},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": duration, "renewTime": renew_time},
    }
    if node_uid:
        lease["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid}]
    return lease


def normalize_image(image: str) -> str:
    """The fully qualified reference a runtime reports: busybox -> docker.io/library/busybox:latest."""
    name, at, digest = image.partition("@")
    first, slash, _ = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"):
        name = "docker.io/" + (name if slash else "library/" + name)
    if not at and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return f"{name}@{digest}" if at else name


def image_id(image: str) -> str:
    """A made-up but stable digest reference for an image (repository@sha256:...)."""
    full = normalize_image(image)
    repo = full.split("@", 1)[0]
    last = repo.rsplit("/", 1)
    if ":" in last[-1]:
        repo = repo[: repo.rfind(":")]
    return f"{repo}@sha256:{_digest('image', full)}"


def container_id(pod_uid: str, container: str, restart: int) -> str:
    return "hollow://" + _digest(pod_uid, container, str(restart))


def _condition(type_: str, status: str, now: str, reason: str = "", message: str = "") -> Obj:
    c: Obj = {"type": type_, "status": status, "lastProbeTime": None, "lastTransitionTime": now}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _is_sidecar(container: Obj) -> bool:
    return container.get("restartPolicy") == "Always"


def readiness_gates_message(pod: Obj) -> str:
    """Why the pod's readiness gates hold Ready False (upstream's message), or "" when they are all True."""
    conditions = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or []}
    msgs = []
    for gate in (pod.get("spec") or {}).get("readinessGates") or []:
        ct = gate.get("conditionType", "")
        c = conditions.get(ct)
        if c is None:
            msgs.append(f'corresponding condition of pod readiness gate "{ct}" does not exist.')
        elif c.get("status") != "True":
            msgs.append(f'the status of pod readiness gate "{ct}" is not "True", but {c.get("status")}')
    return ", ".join(msgs)


@dataclass
class RunState:
    """What a hollow node remembers about one pod it runs."""

    uid: str
    node: str = ""
    started_at: str = ""            # status.startTime and the containers' startedAt
    started_mono: float | None = None  # clock.monotonic() when the containers (re)started
    running_written: bool = False
    terminal: bool = False
    restarts: int = 0
    last_exit: Obj | None = None    # lastState.terminated after a restart
    backoff_until: float | None = None
    ips: list[str] = field(default_factory=list)   # allocated from the node's pod CIDRs (not hostNetwork)
    deletion_seen: float | None = None
    delete_sent: bool = False


def _container_statuses(pod: Obj, run: RunState, now: str, *, exit_code: int | None, waiting: bool) -> Obj:
    """containerStatuses/initContainerStatuses for running (exit_code None), backing off, or terminated pods."""
    spec = pod.get("spec") or {}
    uid = run.uid
    started = run.started_at or now
    statuses = []
    for c in sorted(spec.get("containers") or [], key=lambda c: c.get("name", "")):
        cid = container_id(uid, c["name"], run.restarts)
        st: Obj = {"name": c["name"], "lastState": {}, "restartCount": run.restarts,
                   "image": normalize_image(c.get("image", "")), "imageID": image_id(c.get("image", "")),
                   "containerID": cid}
        if run.last_exit is not None:
            st["lastState"] = {"terminated": dict(run.last_exit,
                                                  containerID=container_id(uid, c["name"], run.restarts - 1))}
        if exit_code is not None:
            st["state"] = {"terminated": {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                                          "startedAt": started, "finishedAt": now, "containerID": cid}}
            st.update(ready=False, started=False)
        elif waiting:
            msg = f"back-off restarting failed container={c['name']} pod={meta.name_of(pod)}_" \
                  f"{meta.namespace_of(pod)}({uid})"
            st["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": msg}}
            st.update(ready=False, started=False)
            st.pop("containerID")
        else:
            st["state"] = {"running": {"startedAt": started}}
            st.update(ready=True, started=True)
        statuses.append(st)
    inits = []
    for c in spec.get("initContainers") or []:
        cid = container_id(uid, c["name"], 0)
        st = {"name": c["name"], "lastState": {}, "restartCount": 0, "image": normalize_image(c.get("image", "")),
              "imageID": image_id(c.get("image", "")), "containerID": cid}
        if _is_sidecar(c) and exit_code is None:
            st["state"] = {"running": {"startedAt": run.started_at or now}}
            st.update(ready=True, started=True)
        else:
            finished = now if _is_sidecar(c) else started
            st["state"] = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started,
                                          "finishedAt": finished, "containerID": cid}}
            st.update(ready=not _is_sidecar(c), started=False)
        inits.append(st)
    out: Obj = {"containerStatuses": statuses}
    if inits:
        out["initContainerStatuses"] = inits
    return out


def running_pod_status(pod: Obj, run: RunState, host_ip: str, pod_ips: list[str], now: str, *,
                       waiting: bool = False) -> Obj:
    """The status a kubelet posts for a pod whose containers run (or back off after a failure)."""
    gates = readiness_gates_message(pod)
    if waiting:
        names = sorted(c["name"] for c in (pod.get("spec") or {}).get("containers") or [])
        msg = f"containers with unready status: [{' '.join(names)}]"
        ready = _condition("Ready", "False", now, "ContainersNotReady", msg)
        containers_ready = _condition("ContainersReady", "False", now, "ContainersNotReady", msg)
    else:
        containers_ready = _condition("ContainersReady", "True", now)
        ready = _condition("Ready", "False", now, "ReadinessGatesNotReady", gates) if gates else \
            _condition("Ready", "True", now)
    status: Obj = {
        "phase": "Running",
        "conditions": [_condition("PodReadyToStartContainers", "True", now), _condition("Initialized", "True", now),
                       ready, containers_ready, _condition("PodScheduled", "True", now)],
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ips[0],
        "podIPs": [{"ip": ip} for ip in pod_ips],
        "startTime": run.started_at or now,
    }
    status.update(_container_statuses(pod, run, now, exit_code=None, waiting=waiting))
    return status


def terminated_pod_status(pod: Obj, run: RunState, host_ip: str, pod_ips: list[str], now: str,
                          exit_code: int) -> Obj:
    """The status of a pod whose containers all exited with `exit_code` (Succeeded for 0, else Failed)."""
    phase = "Succeeded" if exit_code == 0 else "Failed"
    reason = "PodCompleted" if exit_code == 0 else "PodFailed"
    status: Obj = {
        "phase": phase,
        "conditions": [_condition("PodReadyToStartContainers", "False", now),
                       _condition("Initialized", "True", now, "PodCompleted" if exit_code == 0 else ""),
                       _condition("Ready", "False", now, reason), _condition("ContainersReady", "False", now, reason),
                       _condition("PodScheduled", "True", now)],
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": run.started_at or now,
    }
    if pod_ips:
        status["podIP"] = pod_ips[0]
        status["podIPs"] = [{"ip": ip} for ip in pod_ips]
    status.update(_container_statuses(pod, run, now, exit_code=exit_code, waiting=False))
    return status


def _annotation(pod: Obj, key: str) -> str:
    return str((meta.meta(pod).get("annotations") or {}).get(key, ""))


def run_seconds_of(pod: Obj, default: float) -> float:
    text = _annotation(pod, ANNOTATION_RUN_SECONDS)
    try:
        return max(0.0, float(text)) if text else default
    except ValueError:
        return default


def exit_code_of(pod: Obj) -> int:
    text = _annotation(pod, ANNOTATION_EXIT_CODE)
    try:
        return int(text) if text else 0
    except ValueError:
        return 0


# ---------------------------------------------------------------------------------------------- pod IPs


def fallback_pod_cidr(cluster_cidr: str, index: int) -> str:
    """The `index`-th node-sized block (/24, or /64 for IPv6) of `cluster_cidr`, as nodeipam would hand out."""
    net = ipaddress.ip_network(cluster_cidr, strict=False)
    prefix = max(net.prefixlen, 24 if net.version == 4 else 64)
    size = 2 ** (net.max_prefixlen - prefix)
    if (index + 1) * size > net.num_addresses:
        raise ValueError(f"{cluster_cidr} has no room for a pod CIDR of node {index}")
    return f"{net.network_address + index * size}/{prefix}"


class PodIPPool:
    """Pod addresses of one CIDR: lowest free first (so freed addresses are reused), skipping the network
    address and the first host address (the bridge gateway a CNI plugin would take)."""

    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self._first = int(self.network.network_address) + 2
        last = int(self.network.broadcast_address)
        self._last = last - 1 if self.network.version == 4 else last
        self._used: set[int] = set()
        self._low = self._first

    def allocate(self) -> str | None:
        n = self._low
        while n <= self._last and n in self._used:
            n += 1
        if n > self._last:
            return None
        self._used.add(n)
        self._low = n + 1
        return str(ipaddress.ip_address(n))

    def reserve(self, ip: str) -> bool:
        """Mark an address (read back from a pod's status) as taken; False if it is not in this CIDR."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if addr not in self.network:
            return False
        self._used.add(int(addr))
        return True

    def release(self, ip: str) -> None:
        try:
            n = int(ipaddress.ip_address(ip))
        except ValueError:
            return
        if n in self._used:
            self._used.discard(n)
            self._low = min(self._low, n)

    def __len__(self) -> int:
        return len(self._used)


def pod_cidrs_of(node: Obj | None) -> list[str]:
    spec = (node or {}).get("spec") or {}
    cidrs = list(spec.get("podCIDRs") or [])
    if not cidrs and spec.get("podCIDR"):
        cidrs = [spec["podCIDR"]]
    return [str(c) for c in cidrs]


# ---------------------------------------------------------------------------------------------- the nodes


class HollowNodes:
    """`count` simulated kubelets named `<name_prefix><i>`, driven through one Client and one InformerFactory.

    `informers`: the factory to take the node and pod informers from (one is made from `client` when None and
    stopped by `run()`; a given one is started by `run()` and left to its owner to stop). `node_ip_range`: node i
    gets address i+1 of it. `fallback_cluster_cidr`: for a node whose spec.podCIDR is unset, node i takes the
    i-th /24 (/64 for IPv6) of this range (None: its pods wait for the nodeipam controller to set podCIDR).
    """

    def __init__(self, client: Client, *, count: int, name_prefix: str = "hollow-node-", clock: Clock = REAL_CLOCK,
                 lease_duration: int = 40, heartbeat_interval: float = 10.0, status_update_frequency: float = 60.0,
                 pod_run_seconds: float = 1.0, capacity: dict[str, str] | None = None,
                 informers: InformerFactory | None = None, concurrency: int = 50, pod_workers: int = 50,
                 node_ip_range: str = DEFAULT_NODE_IP_RANGE, fallback_cluster_cidr: str | None = None) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        self.client = client
        self.clock = clock
        self.lease_duration = lease_duration
        self.heartbeat_interval = heartbeat_interval
        self.status_update_frequency = status_update_frequency
        self.pod_run_seconds = pod_run_seconds
        self.capacity = dict(capacity or DEFAULT_CAPACITY)
        self.concurrency = concurrency
        self.pod_workers = pod_workers
        self.fallback_cluster_cidr = fallback_cluster_cidr
        self.names: list[str] = [f"{name_prefix}{i}" for i in range(count)]
        self._name_set = frozenset(self.names)
        ip_range = ipaddress.ip_network(node_ip_range, strict=False)
        if ip_range.num_addresses < count + 2:
            raise ValueError(f"node IP range {node_ip_range} is too small for {count} nodes")
        self.node_ips: dict[str, str] = {n: str(ip_range.network_address + i + 1) for i, n in enumerate(self.names)}
        self._owns_informers = informers is None
        if informers is None:
            informers = SharedInformerFactory(client, clock=clock)
        self.informers = informers
        self.node_informer = informers.informer(NODES)
        self.pod_informer = informers.informer(PODS)
        self.pod_informer.add_indexers({NODE_NAME_INDEX: self._node_name_index})
        self.node_informer.add_handler(self._on_node_add, self._on_node_update, self._on_node_delete)
        self.pod_informer.add_handler(self._on_pod, lambda _old, new: self._on_pod(new), self._on_pod)
        self.queue = RateLimitingQueue("hollow-pods", clock=clock,
                                       rate_limiter=ItemExponentialFailureRateLimiter(0.005, 30.0))
        self.registered = asyncio.Event()
        self.node_uids: dict[str, str] = {}
        self._leases: dict[str, Obj] = {}
        self._runs: dict[str, RunState] = {}
        self._pools: dict[str, list[PodIPPool]] = {}
        self._waiting_cidr: dict[str, set[str]] = {}
        self._deleted: set[str] = set()
        self._in_flight: dict[str, set[str]] = {"lease": set(), "status": set()}
        self._sem: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- informer handlers: filter to our nodes, enqueue, return ----
    @staticmethod
    def _node_name_index(pod: Obj) -> list[str]:
        name = (pod.get("spec") or {}).get("nodeName")
        return [name] if name else []

    def _on_pod(self, pod: Obj) -> None:
        key = object_key(pod)
        if (pod.get("spec") or {}).get("nodeName") in self._name_set or key in self._runs:
            self.queue.add(key)

    def _on_node_add(self, node: Obj) -> None:
        name = meta.name_of(node)
        if name in self._name_set:
            self._deleted.discard(name)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        name = meta.name_of(new)
        if name not in self._name_set:
            return
        if pod_cidrs_of(new) and not pod_cidrs_of(old):
            for key in self._waiting_cidr.pop(name, set()):
                self.queue.add(key)
        if self._stopped(old) and not self._stopped(new):
            log.info("node %s: heartbeats resume", name)
            for pod in self.pod_informer.lister.by_index(NODE_NAME_INDEX, name):
                self.queue.add(object_key(pod))
            self._spawn(self._renew_lease, name, "lease")
            self._spawn(self._post_status, name, "status")

    def _on_node_delete(self, node: Obj) -> None:
        name = meta.name_of(node)
        if name in self._name_set:
            self._deleted.add(name)
            self._leases.pop(name, None)

    @staticmethod
    def _stopped(node: Obj | None) -> bool:
        return (meta.meta(node or {}).get("annotations") or {}).get(ANNOTATION_HEARTBEAT) == HEARTBEAT_STOPPED

    def heartbeat_stopped(self, name: str) -> bool:
        return self._stopped(self.node_informer.lister.get(name))

    # ---- lifecycle ----
    async def run(self) -> None:
        """Register every node, then heartbeat and run pods until cancelled."""
        self._sem = asyncio.Semaphore(self.concurrency)
        self.informers.start()
        try:
            async with asyncio.TaskGroup() as tg:
                await self.informers.wait_for_sync()
                await asyncio.gather(*(self._register_until_done(n) for n in self.names))
                self.registered.set()
                log.info("%d hollow nodes registered", len(self.names))
                self._adopt_running_pods()
                tg.create_task(self._spread(self.heartbeat_interval, self._renew_lease, "lease"))
                tg.create_task(self._spread(self.status_update_frequency, self._post_status, "status"))
                for _ in range(self.pod_workers):
                    tg.create_task(self._pod_worker())
        finally:
            self.queue.shut_down()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._owns_informers:
                await self.informers.stop()

    def _spawn(self, action: Callable[[str], Awaitable[None]], name: str, what: str) -> None:
        """Run `action(name)` in the background (bounded by the semaphore), unless one is already running."""
        in_flight = self._in_flight[what]
        if name in in_flight or self._sem is None:
            return
        in_flight.add(name)
        task = asyncio.get_running_loop().create_task(self._guarded(action, name, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, action: Callable[[str], Awaitable[None]], name: str, what: str) -> None:
        assert self._sem is not None
        try:
            async with self._sem:
                await action(name)
        except (errors.StatusError, ConnectionError) as e:
            log.warning("node %s: %s failed: %s", name, what, e)
        except Exception:
            log.exception("node %s: %s failed", name, what)
        finally:
            self._in_flight[what].discard(name)

    async def _spread(self, interval: float, action: Callable[[str], Awaitable[None]], what: str) -> None:
        """Call `action` for every node once per `interval`, node i at offset (i+1)/count of the interval."""
        n = len(self.names)
        start = self.clock.monotonic()
        k = 0
        while True:
            due = start + interval * (k + 1) / n
            wait = due - self.clock.monotonic()
            if wait > 0:
                await self.clock.sleep(wait)
            elif wait < -interval:  # far behind (a stalled loop): skip missed rounds rather than burst
                start -= wait
            self._spawn(action, self.names[k % n], what)
            k += 1
            if k % n == 0:
                await asyncio.sleep(0)

    # ---- registration ----
    async def _register_until_done(self, name: str) -> None:
        assert self._sem is not None
        delay = 0.1
        while True:
            try:
                async with self._sem:
                    await self.register(name)
                return
            except (errors.StatusError, ConnectionError) as e:
                log.warning("node %s: unable to register, retrying in %.1fs: %s", name, delay, e)
            await self.clock.sleep(delay)
            delay = min(delay * 2, REGISTER_BACKOFF_MAX)

    async def register(self, name: str) -> None:
        """Create the Node (or adopt an existing one) with its status, then its Lease."""
        now = meta.now_rfc3339(self.clock.now())
        wanted = node_object(name, self.node_ips[name], self.capacity, now)
        try:
            node = await self.client.create(NODES, wanted)
            adopted = False
        except errors.AlreadyExists:
            node = await self.client.get(NODES, name)
            adopted = True
            labels = meta.labels_of(node)
            missing = {k: v for k, v in node_labels(name).items() if labels.get(k) != v}
            if missing:
                node = await self.client.patch(NODES, name, {"metadata": {"labels": missing}})
        self._deleted.discard(name)
        self.node_uids[name] = str(meta.meta(node).get("uid") or "")
        if not self._stopped(node) and (adopted or not (node.get("status") or {}).get("conditions")):
            previous = (node.get("status") or {}).get("conditions")
            status = node_status(name, self.node_ips[name], self.capacity, now, previous)
            await self.client.patch(NODES, name, {"status": status}, patch_type="strategic", subresource="status")
        if not self._stopped(node):
            await self._renew_lease(name)

    # ---- heartbeats ----
    async def _renew_lease(self, name: str) -> None:
        if name in self._deleted or self.heartbeat_stopped(name):
            return
        renew = meta.now_micro(self.clock.now())
        uid = self.node_uids.get(name, "")
        lease = self._leases.get(name)
        if lease is None:
            try:
                self._leases[name] = await self.client.create(
                    LEASES, lease_object(name, uid, self.lease_duration, renew), NODE_LEASE_NAMESPACE)
                return
            except errors.AlreadyExists:
                lease = await self.client.get(LEASES, name, NODE_LEASE_NAMESPACE)
        for attempt in range(2):
            new = meta.copy(lease)
            spec = new.setdefault("spec", {})
            spec.update(holderIdentity=name, leaseDurationSeconds=self.lease_duration, renewTime=renew)
            if uid and not meta.meta(new).get("ownerReferences"):
                new["metadata"]["ownerReferences"] = lease_object(name, uid, 0, "")["metadata"]["ownerReferences"]
            try:
                self._leases[name] = await self.client.update(LEASES, new)
                return
            except errors.Conflict:
                if attempt:
                    raise
                lease = await self.client.get(LEASES, name, NODE_LEASE_NAMESPACE)
            except errors.NotFound:
                self._leases.pop(name, None)
                self._leases[name] = await self.client.create(
                    LEASES, lease_object(name, uid, self.lease_duration, renew), NODE_LEASE_NAMESPACE)
                return

    async def _post_status(self, name: str) -> None:
        if name in self._deleted:
            return
        node = self.node_informer.lister.get(name)
        if self._stopped(node):
            return
        now = meta.now_rfc3339(self.clock.now())
        previous = ((node or {}).get("status") or {}).get("conditions")
        patch = {"status": {"conditions": node_conditions(now, previous)}}
        try:
            await self.client.patch(NODES, name, patch, patch_type="strategic", subresource="status")
        except errors.NotFound:
            self._deleted.add(name)

    # ---- pods ----
    async def _pod_worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            try:
                after = await self.sync_pod(key)
                self.queue.forget(key)
                if after is not None:
                    self.queue.add_after(key, after)
            except (errors.StatusError, ConnectionError) as e:
                log.info("pod %s: sync failed, retrying: %s", key, e)
                self.queue.add_rate_limited(key)
            except Exception:
                log.exception("pod %s: sync failed", key)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    async def sync_pod(self, key: str) -> float | None:
        """Bring one pod's status to what its hollow node reports; returns seconds until it needs another look."""
        pod = self.pod_informer.lister.get(key)
        run = self._runs.get(key)
        uid = str(meta.meta(pod).get("uid") or "") if pod else ""
        if run is not None and (pod is None or run.uid != uid):
            self._forget(key)
            run = None
        if pod is None:
            return None
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        if node_name not in self._name_set:
            return None
        if self.heartbeat_stopped(node_name):
            return None  # a dead kubelet; the node's resume re-enqueues its pods
        if run is None:
            run = self._runs[key] = self._adopt(pod, node_name)
        if meta.meta(pod).get("deletionTimestamp"):
            return await self._terminate(key, pod, run, node_name)
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            run.terminal = True
            self._release(key, run, node_name)
            return None
        if run.terminal:
            return None
        return await self._drive(key, pod, run, node_name)

    def _adopt_running_pods(self) -> None:
        """After a restart, claim the addresses of every pod we already run before any new pod gets one."""
        for pod in self.pod_informer.lister.list():
            node_name = str((pod.get("spec") or {}).get("nodeName") or "")
            key = object_key(pod)
            if node_name in self._name_set and key not in self._runs:
                self._runs[key] = self._adopt(pod, node_name)

    def _adopt(self, pod: Obj, node_name: str) -> RunState:
        """A RunState for a pod first seen now; a pod this process (or an earlier one) already runs keeps its
        start time and addresses."""
        uid = str(meta.meta(pod).get("uid") or "")
        run = RunState(uid=uid, node=node_name)
        status = pod.get("status") or {}
        cs = status.get("containerStatuses") or []
        ours = status.get("phase") == "Running" and bool(cs) and all(
            str(c.get("containerID", "")).startswith("hollow://") for c in cs)
        if ours:
            run.running_written = True
            run.started_at = str(status.get("startTime") or "")
            run.restarts = max(int(c.get("restartCount") or 0) for c in cs)
            started = meta.parse_time(run.started_at)
            elapsed = (self.clock.now() - started).total_seconds() if started else 0.0
            run.started_mono = self.clock.monotonic() - max(0.0, elapsed)
            if not (pod.get("spec") or {}).get("hostNetwork"):
                pools = self._pools_for(node_name)
                for entry in status.get("podIPs") or []:
                    ip = str(entry.get("ip", ""))
                    if any(p.reserve(ip) for p in pools):
                        run.ips.append(ip)
        return run

    def _pools_for(self, node_name: str) -> list[PodIPPool]:
        pools = self._pools.get(node_name)
        if pools is None:
            cidrs = pod_cidrs_of(self.node_informer.lister.get(node_name))
            if not cidrs and self.fallback_cluster_cidr:
                cidrs = [fallback_pod_cidr(self.fallback_cluster_cidr, self.names.index(node_name))]
            if not cidrs:
                return []
            pools = self._pools[node_name] = [PodIPPool(c) for c in cidrs]
        return pools

    def _allocate(self, key: str, pod: Obj, run: RunState, node_name: str) -> list[str] | None:
        """The pod's addresses (allocating on first use); None while the node has no pod CIDR."""
        if (pod.get("spec") or {}).get("hostNetwork"):
            return [self.node_ips[node_name]]
        if run.ips:
            return run.ips
        pools = self._pools_for(node_name)
        if not pools:
            self._waiting_cidr.setdefault(node_name, set()).add(key)
            return None
        ips: list[str] = []
        for pool in pools:
            ip = pool.allocate()
            if ip is None:
                for got, p in zip(ips, pools, strict=False):
                    p.release(got)
                raise errors.InternalError(f"no free pod address in {pool.network} on node {node_name}")
            ips.append(ip)
        run.ips = ips
        return ips

    def _release(self, key: str, run: RunState, node_name: str) -> None:
        for ip in run.ips:
            for pool in self._pools.get(node_name, []):
                pool.release(ip)
        run.ips = []
        waiting = self._waiting_cidr.get(node_name)
        if waiting:
            waiting.discard(key)

    def _forget(self, key: str) -> None:
        run = self._runs.pop(key, None)
        if run is not None:
            self._release(key, run, run.node)

    async def _write_status(self, pod: Obj, status: Obj) -> None:
        ns, name = meta.namespace_of(pod), meta.name_of(pod)
        body = {"metadata": {"uid": meta.meta(pod).get("uid")}, "status": status}
        await self.client.patch(PODS, name, body, ns, patch_type="strategic", subresource="status")

    async def _drive(self, key: str, pod: Obj, run: RunState, node_name: str) -> float | None:
        ips = self._allocate(key, pod, run, node_name)
        if ips is None:
            return WAIT_FOR_CIDR_SECONDS
        host_ip = self.node_ips[node_name]
        mono = self.clock.monotonic()
        now = meta.now_rfc3339(self.clock.now())
        if run.backoff_until is not None:
            if mono < run.backoff_until:
                return run.backoff_until - mono
            run.backoff_until = None
            run.running_written = False
            run.started_at = ""
        if not run.running_written:
            run.started_at = run.started_at or now
            run.started_mono = mono
            await self._write_status(pod, running_pod_status(pod, run, host_ip, ips, now))
            run.running_written = True
        else:
            await self._sync_readiness(pod, run, host_ip, ips, now)
        policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        if policy == "Always":
            return None
        assert run.started_mono is not None
        remaining = run.started_mono + run_seconds_of(pod, self.pod_run_seconds) - mono
        if remaining > 0:
            return remaining
        code = exit_code_of(pod)
        if code != 0 and policy == "OnFailure":
            return await self._restart(pod, run, host_ip, ips, now, code)
        await self._write_status(pod, terminated_pod_status(pod, run, host_ip, ips, now, code))
        run.terminal = True
        self._release(key, run, node_name)
        return None

    async def _sync_readiness(self, pod: Obj, run: RunState, host_ip: str, ips: list[str], now: str) -> None:
        """Readiness gates flip Ready without any container change (upstream recomputes Ready on every sync)."""
        if not (pod.get("spec") or {}).get("readinessGates"):
            return
        want = "False" if readiness_gates_message(pod) else "True"
        have = next((c.get("status") for c in (pod.get("status") or {}).get("conditions") or []
                     if c.get("type") == "Ready"), None)
        if have != want:
            full = running_pod_status(pod, run, host_ip, ips, now)
            ready = next(c for c in full["conditions"] if c["type"] == "Ready")
            await self._write_status(pod, {"conditions": [ready]})

    async def _restart(self, pod: Obj, run: RunState, host_ip: str, ips: list[str], now: str, code: int) -> float:
        """OnFailure after a failed run: the containers back off (CrashLoopBackOff), then start again."""
        run.last_exit = {"exitCode": code, "reason": "Error", "startedAt": run.started_at or now, "finishedAt": now}
        run.restarts += 1
        delay = min(RESTART_BACKOFF_BASE * 2 ** (run.restarts - 1), RESTART_BACKOFF_MAX)
        await self._write_status(pod, running_pod_status(pod, run, host_ip, ips, now, waiting=True))
        run.backoff_until = self.clock.monotonic() + delay
        return delay

    async def _terminate(self, key: str, pod: Obj, run: RunState, node_name: str) -> float | None:
        """A pod being deleted: stop its containers (at once, or after the grace period when it ignores
        SIGTERM), report them terminated, then confirm the deletion with grace period 0."""
        if run.delete_sent:
            return None
        status = pod.get("status") or {}
        terminal = status.get("phase") in ("Succeeded", "Failed") or run.terminal
        if run.running_written and not terminal:
            mono = self.clock.monotonic()
            code = 0
            if _annotation(pod, ANNOTATION_IGNORE_SIGTERM).lower() == "true":
                if run.deletion_seen is None:
                    run.deletion_seen = mono
                grace = int(meta.meta(pod).get("deletionGracePeriodSeconds") or 0)
                remaining = run.deletion_seen + grace - mono
                if remaining > 0:
                    return remaining
                code = KILLED_EXIT_CODE
            now = meta.now_rfc3339(self.clock.now())
            await self._write_status(pod, terminated_pod_status(pod, run, self.node_ips[node_name], run.ips, now, code))
            run.terminal = True
        ns, name = split_key(key)
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.delete(PODS, name, ns, grace_period_seconds=0, preconditions={"uid": run.uid})
        run.delete_sent = True
        self._release(key, run, node_name)
        return None


async def main(kubeconfig: str | None, count: int, name_prefix: str = "hollow-node-", *, context: str | None = None,
               **options: Any) -> None:
    """Run `count` hollow nodes against the cluster of `kubeconfig` until cancelled (`pyk8s hollow-nodes`).

    `options` are HollowNodes' keyword arguments (heartbeat_interval, pod_run_seconds, capacity, ...).
    """
    config = load_client_config(kubeconfig, context, user_agent="pyk8s/hollow-nodes")
    async with RESTClient(config) as client:
        factory = SharedInformerFactory(client, transform=strip_managed_fields)
        nodes = HollowNodes(client, count=count, name_prefix=name_prefix, informers=factory, **options)
        await nodes.run()

