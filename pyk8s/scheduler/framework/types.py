"""The scheduler's view of pods and nodes: PodInfo (a pod plus values computed once) and NodeInfo (a node plus
the incremental sums of what its pods use), and the FitError that explains a failed cycle.

Everything here is computed once per object change and then read many times per scheduling cycle, so the
hot fields are plain ints in __slots__. Quantities are parsed through a memo (the same few strings recur).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from typing import Any

from pyk8s.api import errors
from pyk8s.api.labels import NOTHING, Operator, Requirement, Selector, from_label_selector
from pyk8s.api.quantity import Quantity, QuantityError
from pyk8s.client.interface import Lister, Obj
from pyk8s.scheduler.framework.interface import Code, NodeToStatus, Status

# Requests assumed for a container that states none, for scoring only (upstream schedutil defaults).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_ZONE = "topology.kubernetes.io/zone"
LABEL_REGION = "topology.kubernetes.io/region"
LABEL_ZONE_BETA = "failure-domain.beta.kubernetes.io/zone"
LABEL_REGION_BETA = "failure-domain.beta.kubernetes.io/region"

NO_NODES_AVAILABLE_MSG = "no nodes available to schedule pods"

# Priorities of the system classes the apiserver creates (used when the PriorityClass cache lacks them).
SYSTEM_PRIORITY_CLASSES = {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}

_generation = itertools.count(1)


# ---- quantities ----

_milli_memo: dict[Any, int] = {}
_value_memo: dict[Any, int] = {}


def milli_value(q: Any) -> int:
    """Quantity.MilliValue() of a JSON quantity (string or number); unparsable counts as 0."""
    try:
        return _milli_memo[q]
    except (KeyError, TypeError):
        pass
    try:
        v = Quantity.from_json(q).milli_value()
    except QuantityError:
        v = 0
    if isinstance(q, str | int | float) and len(_milli_memo) < 65536:
        _milli_memo[q] = v
    return v


def int_value(q: Any) -> int:
    """Quantity.Value() (rounded up) of a JSON quantity; unparsable counts as 0."""
    try:
        return _value_memo[q]
    except (KeyError, TypeError):
        pass
    try:
        v = Quantity.from_json(q).int_value()
    except QuantityError:
        v = 0
    if isinstance(q, str | int | float) and len(_value_memo) < 65536:
        _value_memo[q] = v
    return v


def is_scalar_resource_name(name: str) -> bool:
    """Extended (domain-prefixed, not kubernetes.io/), hugepages-* and attachable-volumes-* resources."""
    if name.startswith(("hugepages-", "attachable-volumes-")):
        return True
    return "/" in name and not name.startswith("kubernetes.io/") and not name.startswith("requests.")


def resource_amount(name: str, q: Any) -> int:
    """The integer the scheduler compares for resource `name`: milli-CPU for cpu, units otherwise."""
    return milli_value(q) if name == "cpu" else int_value(q)


class Resource:
    """An amount of compute resources in scheduler units (upstream framework.Resource)."""

    __slots__ = ("allowed_pod_number", "ephemeral_storage", "memory", "milli_cpu", "scalar")

    def __init__(self, milli_cpu: int = 0, memory: int = 0, ephemeral_storage: int = 0,
                 allowed_pod_number: int = 0, scalar: dict[str, int] | None = None) -> None:
        self.milli_cpu = milli_cpu
        self.memory = memory
        self.ephemeral_storage = ephemeral_storage
        self.allowed_pod_number = allowed_pod_number
        self.scalar: dict[str, int] = scalar if scalar is not None else {}

    @classmethod
    def from_amounts(cls, amounts: Mapping[str, int]) -> Resource:
        r = cls()
        for name, v in amounts.items():
            if name == "cpu":
                r.milli_cpu += v
            elif name == "memory":
                r.memory += v
            elif name == "ephemeral-storage":
                r.ephemeral_storage += v
            elif name == "pods":
                r.allowed_pod_number += v
            elif is_scalar_resource_name(name):
                r.scalar[name] = r.scalar.get(name, 0) + v
        return r

    @classmethod
    def from_resource_list(cls, rl: Mapping[str, Any] | None) -> Resource:
        """From a ResourceList (e.g. node.status.allocatable)."""
        if not rl:
            return cls()
        return cls.from_amounts({name: resource_amount(name, q) for name, q in rl.items()})

    def clone(self) -> Resource:
        return Resource(self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pod_number,
                        dict(self.scalar))

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalar.values()))

    def get(self, name: str) -> int:
        if name == "cpu":
            return self.milli_cpu
        if name == "memory":
            return self.memory
        if name == "ephemeral-storage":
            return self.ephemeral_storage
        if name == "pods":
            return self.allowed_pod_number
        return self.scalar.get(name, 0)

    def __repr__(self) -> str:
        return (f"Resource(cpu={self.milli_cpu}m, memory={self.memory}, ephemeral={self.ephemeral_storage}, "
                f"pods={self.allowed_pod_number}, scalar={self.scalar})")


def _add_into(total: dict[str, int], requests: Mapping[str, Any]) -> None:
    for name, q in requests.items():
        total[name] = total.get(name, 0) + resource_amount(name, q)


def _container_requests(c: Obj, defaults: bool) -> dict[str, int]:
    req: Mapping[str, Any] = (c.get("resources") or {}).get("requests") or {}
    out = {name: resource_amount(name, q) for name, q in req.items()}
    if defaults:
        if "cpu" not in req:
            out["cpu"] = DEFAULT_MILLI_CPU_REQUEST
        if "memory" not in req:
            out["memory"] = DEFAULT_MEMORY_REQUEST
    return out


def pod_requests(pod: Obj, *, non_zero_defaults: bool = False) -> dict[str, int]:
    """Upstream resourcehelper.PodRequests: the sum of app and sidecar containers, at least the largest init
    container (plus the sidecars started before it), plus spec.overhead. With `non_zero_defaults`, a
    container without a cpu/memory request counts the scoring defaults (100m, 200Mi)."""
    spec = pod.get("spec") or {}
    reqs: dict[str, int] = {}
    for c in spec.get("containers") or ():
        for name, v in _container_requests(c, non_zero_defaults).items():
            reqs[name] = reqs.get(name, 0) + v
    init_max: dict[str, int] = {}
    sidecars: dict[str, int] = {}
    for c in spec.get("initContainers") or ():
        creq = _container_requests(c, non_zero_defaults)
        if c.get("restartPolicy") == "Always":
            for name, v in creq.items():
                reqs[name] = reqs.get(name, 0) + v
                sidecars[name] = sidecars.get(name, 0) + v
        else:
            for name in set(creq) | set(sidecars):
                v = creq.get(name, 0) + sidecars.get(name, 0)
                if v > init_max.get(name, 0):
                    init_max[name] = v
    for name, v in init_max.items():
        if v > reqs.get(name, 0):
            reqs[name] = v
    overhead = spec.get("overhead")
    if overhead:
        _add_into(reqs, overhead)
    return reqs


# ---- priority ----

def resolve_priority(pod: Obj, priority_classes: Lister | None = None) -> int:
    """spec.priority, else the value of spec.priorityClassName, else the globalDefault class, else 0."""
    spec = pod.get("spec") or {}
    prio = spec.get("priority")
    if isinstance(prio, int) and not isinstance(prio, bool):
        return prio
    name = spec.get("priorityClassName") or ""
    if name:
        pc = priority_classes.get(name) if priority_classes is not None else None
        if pc is not None:
            return int(pc.get("value") or 0)
        return SYSTEM_PRIORITY_CLASSES.get(name, 0)
    if priority_classes is not None:
        default: int | None = None
        for pc in priority_classes.list():
            if pc.get("globalDefault") and (default is None or int(pc.get("value") or 0) > default):
                default = int(pc.get("value") or 0)
        if default is not None:
            return default
    return 0


# ---- affinity terms ----

class AffinityTerm:
    """A parsed PodAffinityTerm (upstream fwk.AffinityTerm)."""

    __slots__ = ("namespace_selector", "namespaces", "selector", "topology_key")

    def __init__(self, namespaces: frozenset[str], selector: Selector, topology_key: str,
                 namespace_selector: Selector) -> None:
        self.namespaces = namespaces
        self.selector = selector
        self.topology_key = topology_key
        self.namespace_selector = namespace_selector

    def matches(self, namespace: str, labels: Mapping[str, str], ns_labels: Mapping[str, str] | None) -> bool:
        """Does a pod in `namespace` with `labels` match (namespace labels only needed with a selector)?"""
        if namespace in self.namespaces or (
                ns_labels is not None and self.namespace_selector is not NOTHING
                and self.namespace_selector.matches(ns_labels)):
            return self.selector.matches(labels)
        return False

    def needs_namespace_labels(self) -> bool:
        return self.namespace_selector is not NOTHING


class WeightedAffinityTerm:
    __slots__ = ("term", "weight")

    def __init__(self, term: AffinityTerm, weight: int) -> None:
        self.term = term
        self.weight = weight


def _parse_affinity_term(pod: Obj, term: Obj) -> AffinityTerm:
    md = pod.get("metadata") or {}
    pod_labels: Mapping[str, str] = md.get("labels") or {}
    selector = from_label_selector(term.get("labelSelector"))
    if selector is not NOTHING:
        extra: list[Requirement] = []
        for key in term.get("matchLabelKeys") or ():
            if key in pod_labels:
                extra.append(Requirement(key, Operator.IN, (pod_labels[key],)))
        for key in term.get("mismatchLabelKeys") or ():
            if key in pod_labels:
                extra.append(Requirement(key, Operator.NOT_IN, (pod_labels[key],)))
        if extra:
            selector = selector.add(*extra)
    ns_sel_obj = term.get("namespaceSelector")
    namespaces = list(term.get("namespaces") or ())
    if not namespaces and ns_sel_obj is None:
        namespaces = [md.get("namespace") or ""]
    ns_selector = from_label_selector(ns_sel_obj) if ns_sel_obj is not None else NOTHING
    return AffinityTerm(frozenset(namespaces), selector, str(term.get("topologyKey") or ""), ns_selector)


# ---- host ports ----

DEFAULT_BIND_ALL_HOST_IP = "0.0.0.0"


def pod_host_ports(pod: Obj) -> tuple[tuple[str, str, int], ...]:
    """(hostIP, protocol, hostPort) of every container port with a hostPort (upstream GetHostPorts)."""
    out: list[tuple[str, str, int]] = []
    for c in (pod.get("spec") or {}).get("containers") or ():
        for p in c.get("ports") or ():
            hp = p.get("hostPort")
            if hp:
                out.append((p.get("hostIP") or DEFAULT_BIND_ALL_HOST_IP, p.get("protocol") or "TCP", int(hp)))
    return tuple(out)


class HostPortInfo:
    """Host ports in use on a node: hostIP -> {(protocol, port)} (upstream fwk.HostPortInfo)."""

    __slots__ = ("by_ip",)

    def __init__(self) -> None:
        self.by_ip: dict[str, set[tuple[str, int]]] = {}

    def add(self, ip: str, protocol: str, port: int) -> None:
        if port > 0:
            self.by_ip.setdefault(ip or DEFAULT_BIND_ALL_HOST_IP, set()).add((protocol or "TCP", port))

    def remove(self, ip: str, protocol: str, port: int) -> None:
        ip = ip or DEFAULT_BIND_ALL_HOST_IP
        s = self.by_ip.get(ip)
        if s is not None:
            s.discard((protocol or "TCP", port))
            if not s:
                del self.by_ip[ip]

    def check_conflict(self, ip: str, protocol: str, port: int) -> bool:
        if port <= 0:
            return False
        ip = ip or DEFAULT_BIND_ALL_HOST_IP
        pp = (protocol or "TCP", port)
        if ip == DEFAULT_BIND_ALL_HOST_IP:
            return any(pp in s for s in self.by_ip.values())
        for key in (DEFAULT_BIND_ALL_HOST_IP, ip):
            s = self.by_ip.get(key)
            if s is not None and pp in s:
                return True
        return False

    def __len__(self) -> int:
        return sum(len(s) for s in self.by_ip.values())

    def clone(self) -> HostPortInfo:
        c = HostPortInfo()
        c.by_ip = {ip: set(s) for ip, s in self.by_ip.items()}
        return c


# ---- pods ----

# (namespace, labels, terminating): pods that no label selector, namespace check or "skip terminating pods" rule
# can tell apart. NodeInfo counts its pods per key, so a selector is matched once per distinct key.
LabelSetKey = tuple[str, frozenset[tuple[str, str]], bool]


def label_set_key(namespace: str, labels: Mapping[str, str], terminating: bool) -> LabelSetKey:
    return (namespace, frozenset(labels.items()), terminating)


def pod_pvc_keys(pod: Obj) -> tuple[str, ...]:
    """"namespace/claim" of every PVC the pod uses, generic ephemeral volumes included."""
    md = pod.get("metadata") or {}
    ns = md.get("namespace") or ""
    out: list[str] = []
    for v in (pod.get("spec") or {}).get("volumes") or ():
        pvc = v.get("persistentVolumeClaim")
        if pvc and pvc.get("claimName"):
            out.append(f"{ns}/{pvc['claimName']}")
        elif v.get("ephemeral") is not None:
            out.append(f"{ns}/{md.get('name', '')}-{v.get('name', '')}")
    return tuple(out)


class PodInfo:
    """A pod plus what the scheduler computes once about it. `pod` is the informer's dict: read-only."""

    __slots__ = (
        "has_affinity", "has_required_anti_affinity", "host_ports", "key", "label_set", "labels", "name", "namespace",
        "node_name", "non_zero_cpu", "non_zero_mem", "parse_error", "pod", "preferred_affinity_terms",
        "preferred_anti_affinity_terms", "priority", "pvc_keys", "requests", "required_affinity_terms",
        "required_anti_affinity_terms", "uid", "uid_key",
    )

    pod: Obj
    key: str
    uid: str
    uid_key: str
    namespace: str
    name: str
    labels: Mapping[str, str]
    label_set: LabelSetKey
    node_name: str
    priority: int
    requests: Resource
    non_zero_cpu: int
    non_zero_mem: int
    host_ports: tuple[tuple[str, str, int], ...]
    pvc_keys: tuple[str, ...]
    required_affinity_terms: list[AffinityTerm]
    required_anti_affinity_terms: list[AffinityTerm]
    preferred_affinity_terms: list[WeightedAffinityTerm]
    preferred_anti_affinity_terms: list[WeightedAffinityTerm]
    has_affinity: bool
    has_required_anti_affinity: bool
    parse_error: str

    def __init__(self, pod: Obj, priority: int | None = None) -> None:
        md = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.pod = pod
        self.namespace = md.get("namespace") or ""
        self.name = md.get("name") or ""
        self.key = f"{self.namespace}/{self.name}"
        self.uid = md.get("uid") or ""
        self.uid_key = self.uid or self.key
        self.labels = md.get("labels") or {}
        self.label_set = label_set_key(self.namespace, self.labels, bool(md.get("deletionTimestamp")))
        self.node_name = spec.get("nodeName") or ""
        self.priority = resolve_priority(pod) if priority is None else priority
        amounts = pod_requests(pod)
        self.requests = Resource.from_amounts(amounts)
        nz = pod_requests(pod, non_zero_defaults=True)
        self.non_zero_cpu = nz.get("cpu", 0)
        self.non_zero_mem = nz.get("memory", 0)
        self.host_ports = pod_host_ports(pod)
        self.pvc_keys = pod_pvc_keys(pod)
        self.parse_error = ""
        self.required_affinity_terms = []
        self.required_anti_affinity_terms = []
        self.preferred_affinity_terms = []
        self.preferred_anti_affinity_terms = []
        affinity = spec.get("affinity") or {}
        pa = affinity.get("podAffinity")
        paa = affinity.get("podAntiAffinity")
        self.has_affinity = bool(pa or paa)
        self.has_required_anti_affinity = bool(paa and paa.get("requiredDuringSchedulingIgnoredDuringExecution"))
        if self.has_affinity:
            try:
                self._parse_affinity(pa or {}, paa or {})
            except errors.StatusError as e:
                # The apiserver does not fully validate terms; like upstream, keep what parsed and note it.
                self.parse_error = e.message

    def _parse_affinity(self, pa: Obj, paa: Obj) -> None:
        pod = self.pod
        for t in pa.get("requiredDuringSchedulingIgnoredDuringExecution") or ():
            self.required_affinity_terms.append(_parse_affinity_term(pod, t))
        for t in paa.get("requiredDuringSchedulingIgnoredDuringExecution") or ():
            self.required_anti_affinity_terms.append(_parse_affinity_term(pod, t))
        for w in pa.get("preferredDuringSchedulingIgnoredDuringExecution") or ():
            self.preferred_affinity_terms.append(
                WeightedAffinityTerm(_parse_affinity_term(pod, w.get("podAffinityTerm") or {}), int(w.get("weight") or 0)))
        for w in paa.get("preferredDuringSchedulingIgnoredDuringExecution") or ():
            self.preferred_anti_affinity_terms.append(
                WeightedAffinityTerm(_parse_affinity_term(pod, w.get("podAffinityTerm") or {}), int(w.get("weight") or 0)))

    def with_pod(self, pod: Obj) -> PodInfo:
        """This PodInfo for another version of the same pod whose spec is unchanged (e.g. nodeName set); labels
        and the terminating mark are read from the new version."""
        c = PodInfo.__new__(PodInfo)
        for slot in PodInfo.__slots__:
            setattr(c, slot, getattr(self, slot))
        c.pod = pod
        c.node_name = (pod.get("spec") or {}).get("nodeName") or ""
        md = pod.get("metadata") or {}
        labels = md.get("labels") or {}
        terminating = bool(md.get("deletionTimestamp"))
        if labels != self.labels or terminating != self.label_set[2]:
            c.labels = labels
            c.label_set = label_set_key(self.namespace, labels, terminating)
        return c

    @property
    def deleting(self) -> bool:
        return bool((self.pod.get("metadata") or {}).get("deletionTimestamp"))

    def start_time(self) -> str:
        """status.startTime, else "~" (later than any RFC 3339 time: not started counts as newest)."""
        return str((self.pod.get("status") or {}).get("startTime") or "~")

    def __repr__(self) -> str:
        return f"PodInfo({self.key} prio={self.priority} node={self.node_name!r})"


def more_important_pod(a: PodInfo, b: PodInfo) -> bool:
    """Higher priority first, then the one that started earlier (upstream util.MoreImportantPod)."""
    if a.priority != b.priority:
        return a.priority > b.priority
    return a.start_time() < b.start_time()


# ---- nodes ----

class ImageState:
    """An image known to the cache: its size and the nodes that have it (shared by those NodeInfos)."""

    __slots__ = ("nodes", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.nodes: set[str] = set()

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)


def _filter_taints(taints: list[Obj], effects: tuple[str, ...]) -> tuple[Obj, ...]:
    return tuple(t for t in taints if t.get("effect") in effects)


class NodeInfo:
    """A node and the running sums of the pods on it, including assumed pods (upstream framework.NodeInfo)."""

    __slots__ = (
        "alloc_cpu", "alloc_eph", "alloc_mem", "alloc_pods", "allocatable", "filter_taints", "generation",
        "image_states", "indexed", "label_sets", "labels", "name", "node", "non_zero_cpu", "non_zero_mem", "pods",
        "pods_with_affinity", "pods_with_required_anti_affinity", "prefer_taints", "pvc_ref_counts", "req_cpu",
        "req_eph", "req_mem", "requested", "taints", "unschedulable", "used_ports",
    )

    # Flat mirrors of allocatable / requested cpu, memory, ephemeral storage and the pod count, read by the
    # per-node loops of Filter and Score: alloc_cpu, alloc_mem, alloc_eph, alloc_pods, req_cpu, req_mem, req_eph.
    # `label_sets` counts the pods per LabelSetKey. `indexed` is True for the cache's own NodeInfos, whose label
    # sets are all known to the cache's LabelSetIndex (clones and NodeInfos built elsewhere are not).

    def __init__(self, node: Obj | None = None) -> None:
        self.node: Obj | None = None
        self.name = ""
        self.labels: Mapping[str, str] = {}
        self.taints: tuple[Obj, ...] = ()
        self.filter_taints: tuple[Obj, ...] = ()
        self.prefer_taints: tuple[Obj, ...] = ()
        self.unschedulable = False
        self.allocatable = Resource()
        self.pods: dict[str, PodInfo] = {}
        self.pods_with_affinity: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        self.label_sets: dict[LabelSetKey, int] = {}
        self.indexed = False
        self.used_ports = HostPortInfo()
        self.requested = Resource()
        self.non_zero_cpu = 0
        self.non_zero_mem = 0
        self.alloc_cpu = self.alloc_mem = self.alloc_eph = self.alloc_pods = 0
        self.req_cpu = self.req_mem = self.req_eph = 0
        self.image_states: dict[str, ImageState] = {}
        self.pvc_ref_counts: dict[str, int] = {}
        self.generation = next(_generation)
        if node is not None:
            self.set_node(node)

    def set_node(self, node: Obj) -> None:
        md = node.get("metadata") or {}
        spec = node.get("spec") or {}
        self.node = node
        self.name = md.get("name") or ""
        self.labels = md.get("labels") or {}
        taints = list(spec.get("taints") or ())
        self.taints = tuple(taints)
        self.filter_taints = _filter_taints(taints, ("NoSchedule", "NoExecute"))
        self.prefer_taints = _filter_taints(taints, ("PreferNoSchedule",))
        self.unschedulable = bool(spec.get("unschedulable"))
        alloc = Resource.from_resource_list((node.get("status") or {}).get("allocatable"))
        self.allocatable = alloc
        self.alloc_cpu = alloc.milli_cpu
        self.alloc_mem = alloc.memory
        self.alloc_eph = alloc.ephemeral_storage
        self.alloc_pods = alloc.allowed_pod_number
        self.generation = next(_generation)

    def remove_node(self) -> None:
        self.node = None
        self.generation = next(_generation)

    def add_pod(self, pi: PodInfo) -> None:
        k = pi.uid_key
        self.pods[k] = pi
        if pi.has_affinity:
            self.pods_with_affinity[k] = pi
        if pi.has_required_anti_affinity:
            self.pods_with_required_anti_affinity[k] = pi
        self._update(pi, 1)

    def remove_pod(self, pi: PodInfo) -> PodInfo | None:
        """Remove the pod with `pi`'s uid and return the PodInfo that was counted; None when it is not here."""
        k = pi.uid_key
        old = self.pods.pop(k, None)
        if old is None:
            return None
        self.pods_with_affinity.pop(k, None)
        self.pods_with_required_anti_affinity.pop(k, None)
        self._update(old, -1)
        return old

    def count_label_sets(self, keys: Collection[LabelSetKey]) -> int:
        """How many pods here have one of `keys` (iterating whichever side is smaller)."""
        counts = self.label_sets
        n = 0
        if len(keys) < len(counts):
            get = counts.get
            for k in keys:
                n += get(k, 0)
        else:
            for k, c in counts.items():
                if k in keys:
                    n += c
        return n

    def _update(self, pi: PodInfo, sign: int) -> None:
        r = pi.requests
        req = self.requested
        req.milli_cpu += sign * r.milli_cpu
        req.memory += sign * r.memory
        req.ephemeral_storage += sign * r.ephemeral_storage
        self.req_cpu = req.milli_cpu
        self.req_mem = req.memory
        self.req_eph = req.ephemeral_storage
        if r.scalar:
            for name, v in r.scalar.items():
                req.scalar[name] = req.scalar.get(name, 0) + sign * v
        self.non_zero_cpu += sign * pi.non_zero_cpu
        self.non_zero_mem += sign * pi.non_zero_mem
        ls = pi.label_set
        n = self.label_sets.get(ls, 0) + sign
        if n > 0:
            self.label_sets[ls] = n
        else:
            self.label_sets.pop(ls, None)
        if pi.host_ports:
            for ip, proto, port in pi.host_ports:
                if sign > 0:
                    self.used_ports.add(ip, proto, port)
                else:
                    self.used_ports.remove(ip, proto, port)
        if pi.pvc_keys:
            for key in pi.pvc_keys:
                n = self.pvc_ref_counts.get(key, 0) + sign
                if n > 0:
                    self.pvc_ref_counts[key] = n
                else:
                    self.pvc_ref_counts.pop(key, None)
        self.generation = next(_generation)

    def clone(self) -> NodeInfo:
        """An independent copy (pods shared, sums and sets copied) for what-if evaluation."""
        c = NodeInfo.__new__(NodeInfo)
        c.node = self.node
        c.name = self.name
        c.labels = self.labels
        c.taints = self.taints
        c.filter_taints = self.filter_taints
        c.prefer_taints = self.prefer_taints
        c.unschedulable = self.unschedulable
        c.allocatable = self.allocatable
        c.pods = dict(self.pods)
        c.pods_with_affinity = dict(self.pods_with_affinity)
        c.pods_with_required_anti_affinity = dict(self.pods_with_required_anti_affinity)
        c.label_sets = dict(self.label_sets)
        c.indexed = False
        c.used_ports = self.used_ports.clone()
        c.requested = self.requested.clone()
        c.non_zero_cpu = self.non_zero_cpu
        c.non_zero_mem = self.non_zero_mem
        c.alloc_cpu, c.alloc_mem, c.alloc_eph, c.alloc_pods = self.alloc_cpu, self.alloc_mem, self.alloc_eph, self.alloc_pods
        c.req_cpu, c.req_mem, c.req_eph = self.req_cpu, self.req_mem, self.req_eph
        c.image_states = self.image_states
        c.pvc_ref_counts = dict(self.pvc_ref_counts)
        c.generation = self.generation
        return c

    def __repr__(self) -> str:
        return f"NodeInfo({self.name} pods={len(self.pods)} requested={self.requested})"


# ---- failure explanation ----

class Diagnosis:
    """What went wrong in a cycle: per-node statuses and the plugins that rejected the pod."""

    __slots__ = ("node_to_status", "pending_plugins", "post_filter_msg", "pre_filter_msg", "unschedulable_plugins")

    def __init__(self, node_to_status: NodeToStatus | None = None) -> None:
        self.node_to_status = node_to_status if node_to_status is not None else NodeToStatus()
        self.unschedulable_plugins: set[str] = set()
        self.pending_plugins: set[str] = set()
        self.pre_filter_msg = ""
        self.post_filter_msg = ""

    def add_plugin_status(self, status: Status) -> None:
        if not status.plugin:
            return
        if status.is_rejected():
            self.unschedulable_plugins.add(status.plugin)
        if status.code is Code.PENDING:
            self.pending_plugins.add(status.plugin)


class FitError(Exception):
    """No node fits the pod. str() is upstream's FitError.Error(), the FailedScheduling message."""

    def __init__(self, pod: PodInfo, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.pod = pod
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        d = self.diagnosis
        msg = f"0/{self.num_all_nodes} nodes are available:"
        if d.pre_filter_msg:
            msg += f" {d.pre_filter_msg}."
        else:
            reasons: dict[str, int] = {}
            nts = d.node_to_status
            for _, status in nts.items():
                for reason in status.all_reasons():
                    reasons[reason] = reasons.get(reason, 0) + 1
            if len(nts) < self.num_all_nodes:
                for reason in nts.absent_nodes_status.all_reasons():
                    reasons[reason] = reasons.get(reason, 0) + self.num_all_nodes - len(nts)
            histogram = sorted(f"{n} {reason}" for reason, n in reasons.items())
            if histogram:
                msg += f" {', '.join(histogram)}."
        if d.post_filter_msg:
            msg += f" {d.post_filter_msg}"
        return msg


class NoNodesAvailable(Exception):
    def __init__(self) -> None:
        super().__init__(NO_NODES_AVAILABLE_MSG)
