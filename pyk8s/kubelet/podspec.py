"""A v1 Pod turned into the CRI configs the runtime is given: the sandbox config and one config per container.

This is upstream's kuberuntime generatePodSandboxConfig / generateContainerConfig and their helpers (GetPodDNS,
GeneratePodHostNameAndDomain, makeMounts, the managed hosts file, calculateLinuxResources, the QoS and OOM
score policy, the effective security context). Everything is a pure function of the pod except
`container_config`, which writes two small files under the pod's directory: the managed /etc/hosts
(`<pod_dir>/etc-hosts`, written when the pod IP is known and the pod is not on the host network) and the
container's termination message file (`<pod_dir>/containers/<name>/<restart_count>`).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import orjson

from pyk8s.api.quantity import Quantity, QuantityError
from pyk8s.kubelet.cri.interface import (
    ANNOTATION_CONTAINER_HASH,
    ANNOTATION_RESTART_COUNT,
    ANNOTATION_TERMINATION_GRACE,
    ANNOTATION_TERMINATION_MESSAGE_PATH,
    LABEL_CONTAINER_NAME,
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    ContainerConfig,
    ContainerMetadata,
    DNSConfig,
    LinuxContainerResources,
    LinuxContainerSecurityContext,
    Mount,
    PodSandboxConfig,
    PodSandboxMetadata,
    PortMapping,
)
from pyk8s.kubelet.envvars import CreateContainerConfigError, expand, lookup_in
from pyk8s.kubelet.hostsfile import hosts_file_content

Obj = dict[str, Any]

# The annotation upstream also sets on containers, so the runtime can fall back to the log tail.
ANNOTATION_TERMINATION_MESSAGE_POLICY = "io.kubernetes.container.terminationMessagePolicy"

DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
ETC_HOSTS = "/etc/hosts"
HOSTS_FILE = "etc-hosts"

CPU_PERIOD = 100_000
MIN_QUOTA = 1000
MIN_SHARES = 2
MAX_SHARES = 262_144
SHARES_PER_CPU = 1024

GUARANTEED_OOM_SCORE_ADJ = -997
BESTEFFORT_OOM_SCORE_ADJ = 1000
CRITICAL_POD_PRIORITY = 2_000_000_000

MAX_DNS_NAMESERVERS = 3
MAX_DNS_SEARCH_PATHS = 32
MAX_DNS_SEARCH_LIST_CHARS = 2048
HOSTNAME_MAX_LEN = 63

_QOS_RESOURCES = ("cpu", "memory")
_RO_VOLUME_SOURCES = ("configMap", "secret", "downwardAPI", "projected")
_PROPAGATION = {None: "private", "": "private", "None": "private", "HostToContainer": "rslave",
                "Bidirectional": "rshared"}


# ------------------------------------------------------------------------------------------------ small readers

def _meta(pod: Obj) -> Obj:
    return pod.get("metadata") or {}


def _spec(pod: Obj) -> Obj:
    return pod.get("spec") or {}


def _q(value: Any) -> Quantity:
    try:
        return Quantity.from_json(value)
    except QuantityError:
        return Quantity(Decimal(0))


def container_requests_limits(container: Obj) -> tuple[dict[str, Quantity], dict[str, Quantity]]:
    """The container's (requests, limits), non-zero entries only; requests default to limits as the API does."""
    res = container.get("resources") or {}
    limits = {k: _q(v) for k, v in (res.get("limits") or {}).items()}
    requests = {k: _q(v) for k, v in (res.get("requests") or {}).items()}
    for k, v in limits.items():
        requests.setdefault(k, v)
    return ({k: v for k, v in requests.items() if v.sign() > 0}, {k: v for k, v in limits.items() if v.sign() > 0})


def _is_sidecar(container: Obj) -> bool:
    return container.get("restartPolicy") == "Always"


def _pod_total(pod: Obj, limits: bool) -> dict[str, Decimal]:
    """PodRequests / PodLimits: app containers and sidecars summed, at least the largest regular init container."""
    spec = _spec(pod)
    total: dict[str, Decimal] = {}

    def pick(c: Obj) -> dict[str, Quantity]:
        return container_requests_limits(c)[1 if limits else 0]

    for c in spec.get("containers") or []:
        for k, v in pick(c).items():
            total[k] = total.get(k, Decimal(0)) + v.value
    sidecars: dict[str, Decimal] = {}
    init_max: dict[str, Decimal] = {}
    for c in spec.get("initContainers") or []:
        amounts = pick(c)
        if _is_sidecar(c):
            for k, v in amounts.items():
                sidecars[k] = sidecars.get(k, Decimal(0)) + v.value
            current = dict(sidecars)
        else:
            current = {k: v.value + sidecars.get(k, Decimal(0)) for k, v in amounts.items()}
            for res, amount in sidecars.items():
                current.setdefault(res, amount)
        for res, amount in current.items():
            init_max[res] = max(init_max.get(res, Decimal(0)), amount)
    for res, amount in sidecars.items():
        total[res] = total.get(res, Decimal(0)) + amount
    for res, amount in init_max.items():
        total[res] = max(total.get(res, Decimal(0)), amount)
    for res, raw in (spec.get("overhead") or {}).items():
        if not limits or res in total:
            total[res] = total.get(res, Decimal(0)) + _q(raw).value
    return total


# ------------------------------------------------------------------------------------------------ QoS and cgroups

def qos_class(pod: Obj) -> str:
    """Guaranteed | Burstable | BestEffort: status.qosClass when the apiserver set it, else upstream's GetPodQOS."""
    recorded = (pod.get("status") or {}).get("qosClass")
    if recorded in ("Guaranteed", "Burstable", "BestEffort"):
        return str(recorded)
    spec = _spec(pod)
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        req, lim = container_requests_limits(c)
        for k in _QOS_RESOURCES:
            if k in req:
                requests[k] = requests.get(k, Decimal(0)) + req[k].value
            if k in lim:
                limits[k] = limits.get(k, Decimal(0)) + lim[k].value
        if not all(k in lim for k in _QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(k) == v for k, v in requests.items()) and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def pod_cgroup_parent(pod: Obj) -> str:
    """The pod's cgroup relative to the node's cgroup root: kubepods[/burstable|/besteffort]/pod<uid>."""
    uid = _meta(pod).get("uid") or ""
    qos = qos_class(pod)
    if qos == "Guaranteed":
        return f"kubepods/pod{uid}"
    return f"kubepods/{qos.lower()}/pod{uid}"


def milli_cpu_to_shares(milli: int) -> int:
    """MilliCPUToShares: 1024 shares per CPU, at least 2, at most 262144."""
    if milli == 0:
        return MIN_SHARES
    shares = milli * SHARES_PER_CPU // 1000
    return max(MIN_SHARES, min(MAX_SHARES, shares))


def milli_cpu_to_quota(milli: int, period: int = CPU_PERIOD) -> int:
    """MilliCPUToQuota: CFS quota for a CPU limit (0 = none), at least 1000µs."""
    if milli == 0:
        return 0
    return max(MIN_QUOTA, milli * period // 1000)


def _is_node_critical(pod: Obj) -> bool:
    spec = _spec(pod)
    annotations = _meta(pod).get("annotations") or {}
    static = annotations.get("kubernetes.io/config.source", "api") != "api" or \
        "kubernetes.io/config.mirror" in annotations
    priority = spec.get("priority")
    critical = static or (isinstance(priority, int) and priority >= CRITICAL_POD_PRIORITY)
    return critical and spec.get("priorityClassName") == "system-node-critical"


def oom_score_adj(pod: Obj, container: Obj, memory_capacity: int) -> int:
    """GetContainerOOMScoreAdjust: -997 Guaranteed (and node-critical), 1000 BestEffort, else by memory request."""
    if _is_node_critical(pod):
        return GUARANTEED_OOM_SCORE_ADJ
    qos = qos_class(pod)
    if qos == "Guaranteed":
        return GUARANTEED_OOM_SCORE_ADJ
    if qos == "BestEffort":
        return BESTEFFORT_OOM_SCORE_ADJ
    capacity = max(1, memory_capacity)
    request = container_requests_limits(container)[0].get("memory")
    score = 1000 - (1000 * (request.int_value() if request else 0)) // capacity
    if _is_sidecar(container):
        regular = [container_requests_limits(c)[0].get("memory") for c in _spec(pod).get("containers") or []]
        smallest = min((q.int_value() if q else 0 for q in regular), default=None)
        if smallest is not None:
            score = min(score, 1000 - (1000 * smallest) // capacity)
    if score < 1000 + GUARANTEED_OOM_SCORE_ADJ:
        return 1000 + GUARANTEED_OOM_SCORE_ADJ
    if score == BESTEFFORT_OOM_SCORE_ADJ:
        return score - 1
    return int(score)


def node_memory_capacity(meminfo: str = "/proc/meminfo") -> int:
    """MemTotal in bytes (the default node memory capacity for OOM scores)."""
    try:
        with open(meminfo) as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 30


def container_resources(pod: Obj, container: Obj, *, memory_capacity: int) -> LinuxContainerResources:
    """calculateLinuxResources + the OOM score: shares from the CPU request, quota from the CPU limit."""
    requests, limits = container_requests_limits(container)
    cpu_request = requests.get("cpu")
    cpu_limit = limits.get("cpu")
    memory_limit = limits.get("memory")
    out = LinuxContainerResources(oom_score_adj=oom_score_adj(pod, container, memory_capacity))
    if cpu_request is None and cpu_limit is not None:
        out.cpu_shares = milli_cpu_to_shares(cpu_limit.milli_value())
    else:
        out.cpu_shares = milli_cpu_to_shares(cpu_request.milli_value() if cpu_request else 0)
    if cpu_limit is not None:
        out.cpu_period = CPU_PERIOD
        out.cpu_quota = milli_cpu_to_quota(cpu_limit.milli_value(), CPU_PERIOD)
    if memory_limit is not None:
        out.memory_limit_in_bytes = memory_limit.int_value()
    return out


def _pod_level_resources(pod: Obj, config: PodSandboxConfig) -> None:
    """ResourceConfigForPod: the pod cgroup's shares / quota / memory limit by QoS class."""
    qos = qos_class(pod)
    if qos == "BestEffort":
        config.cpu_shares = MIN_SHARES
        return
    requests = _pod_total(pod, limits=False)
    limits = _pod_total(pod, limits=True)
    containers = _spec(pod).get("containers") or []
    cpu_declared = all("cpu" in container_requests_limits(c)[1] for c in containers)
    memory_declared = all("memory" in container_requests_limits(c)[1] for c in containers)
    config.cpu_shares = milli_cpu_to_shares(Quantity(requests.get("cpu", Decimal(0))).milli_value())
    quota = milli_cpu_to_quota(Quantity(limits.get("cpu", Decimal(0))).milli_value(), CPU_PERIOD)
    memory = Quantity(limits.get("memory", Decimal(0))).int_value()
    if qos == "Guaranteed" or cpu_declared:
        config.cpu_quota, config.cpu_period = quota, CPU_PERIOD
    if qos == "Guaranteed" or memory_declared:
        config.memory_limit_in_bytes = memory


# ------------------------------------------------------------------------------------------------ hostname and DNS

def _truncate_hostname(name: str) -> str:
    if len(name) <= HOSTNAME_MAX_LEN:
        return name
    return name[:HOSTNAME_MAX_LEN].rstrip("-.")


def pod_hostname_and_domain(pod: Obj, cluster_domain: str) -> tuple[str, str]:
    """GeneratePodHostNameAndDomain: (spec.hostname or the pod name, truncated to 63; the subdomain's domain)."""
    spec = _spec(pod)
    hostname = _truncate_hostname(str(spec.get("hostname") or _meta(pod).get("name") or ""))
    domain = ""
    subdomain = spec.get("subdomain") or ""
    if subdomain:
        domain = f"{subdomain}.{_meta(pod).get('namespace') or 'default'}.svc.{cluster_domain}"
    return hostname, domain


def _omit_duplicates(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for v in values:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


def _fit_searches(searches: list[str]) -> list[str]:
    """formDNSSearchFitsLimits: at most 32 paths and 2048 characters in all."""
    limited = searches[:MAX_DNS_SEARCH_PATHS]
    while limited and len(" ".join(limited)) > MAX_DNS_SEARCH_LIST_CHARS:
        limited = limited[:-1]
    return limited


def _merge_options(existing: list[str], extra: list[Obj]) -> list[str]:
    options: dict[str, str] = {}
    for op in existing:
        name, _, value = op.partition(":")
        options[name] = value
    for option in extra:
        options[str(option.get("name") or "")] = str(option.get("value") or "")
    return [f"{k}:{v}" if v else k for k, v in options.items()]


def pod_dns(pod: Obj, *, cluster_dns: list[str], cluster_domain: str, resolver: DNSConfig | None = None) -> DNSConfig:
    """GetPodDNS by dnsPolicy, then spec.dnsConfig merged in.

    `resolver` is what upstream reads from the node's --resolv-conf for dnsPolicy Default (and as extra search
    paths for ClusterFirst); it defaults to nothing, so a test node never leaks its host resolver into pods.
    ClusterFirst without cluster DNS servers falls back to Default, as upstream.
    """
    spec = _spec(pod)
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    host = resolver or DNSConfig()
    if policy == "None":
        kind = "none"
    elif policy == "ClusterFirstWithHostNet":
        kind = "cluster"
    elif policy == "ClusterFirst":
        kind = "host" if spec.get("hostNetwork") else "cluster"
    else:
        kind = "host"
    if kind == "cluster" and not cluster_dns:
        kind = "host"
    dns = DNSConfig()
    if kind == "cluster":
        dns.servers = list(cluster_dns)
        ns = _meta(pod).get("namespace") or "default"
        searches = [f"{ns}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain] if cluster_domain else []
        dns.searches = _omit_duplicates(searches + list(host.searches))
        dns.options = ["ndots:5"]
    elif kind == "host":
        dns.servers = list(host.servers)
        dns.searches = list(host.searches)
        dns.options = list(host.options)
    config = spec.get("dnsConfig")
    if config:
        dns.servers = _omit_duplicates(dns.servers + [str(s) for s in config.get("nameservers") or []])
        dns.searches = _omit_duplicates(dns.searches + [str(s) for s in config.get("searches") or []])
        dns.options = _merge_options(dns.options, list(config.get("options") or []))
    dns.servers = dns.servers[:MAX_DNS_NAMESERVERS]
    dns.searches = _fit_searches(dns.searches)
    return dns


# ------------------------------------------------------------------------------------------------ the sandbox

def pod_labels(pod: Obj) -> dict[str, str]:
    m = _meta(pod)
    labels = {str(k): str(v) for k, v in (m.get("labels") or {}).items()}
    labels.update({LABEL_POD_NAME: m.get("name") or "", LABEL_POD_NAMESPACE: m.get("namespace") or "",
                   LABEL_POD_UID: m.get("uid") or ""})
    return labels


def port_mappings(pod: Obj) -> list[PortMapping]:
    """Every container port with a hostPort (a port name used twice in one container counts once)."""
    out: list[PortMapping] = []
    for c in _spec(pod).get("containers") or []:
        names: set[str] = set()
        for p in c.get("ports") or []:
            name = p.get("name") or ""
            if name:
                if name in names:
                    continue
                names.add(name)
            host_port = int(p.get("hostPort") or 0)
            if host_port <= 0:
                continue
            out.append(PortMapping(container_port=int(p.get("containerPort") or 0), host_port=host_port,
                                   protocol=str(p.get("protocol") or "TCP"), host_ip=str(p.get("hostIP") or "")))
    return out


def sandbox_config(pod: Obj, *, pod_log_root: str, cluster_dns: list[str], cluster_domain: str, attempt: int,
                   cgroup_parent: str, resolver: DNSConfig | None = None) -> PodSandboxConfig:
    """generatePodSandboxConfig. `resolver`: the node's resolv.conf for dnsPolicy Default (see pod_dns).

    A host-network pod gets no hostname (it shares the node's UTS namespace), as upstream.
    """
    m = _meta(pod)
    spec = _spec(pod)
    name, ns, uid = m.get("name") or "", m.get("namespace") or "", m.get("uid") or ""
    host_network = bool(spec.get("hostNetwork"))
    hostname = ""
    if not host_network:
        hostname, domain = pod_hostname_and_domain(pod, cluster_domain)
        if spec.get("setHostnameAsFQDN") and domain:
            fqdn = f"{hostname}.{domain}"
            if len(fqdn) > 64:
                raise CreateContainerConfigError(
                    f"failed to construct FQDN from pod hostname and cluster domain, FQDN {fqdn} is too long "
                    f"(64 characters is the max, {len(fqdn)} characters requested)")
            hostname = fqdn
    config = PodSandboxConfig(
        metadata=PodSandboxMetadata(name=name, namespace=ns, uid=uid, attempt=attempt),
        hostname=hostname,
        log_directory=posixpath.join(pod_log_root, f"{ns}_{name}_{uid}"),
        dns=pod_dns(pod, cluster_dns=cluster_dns, cluster_domain=cluster_domain, resolver=resolver),
        port_mappings=port_mappings(pod),
        labels=pod_labels(pod),
        annotations={str(k): str(v) for k, v in (m.get("annotations") or {}).items()},
        host_network=host_network,
        cgroup_parent=cgroup_parent,
        sysctls={str(s.get("name")): str(s.get("value") or "")
                 for s in (spec.get("securityContext") or {}).get("sysctls") or []},
    )
    _pod_level_resources(pod, config)
    return config


# ------------------------------------------------------------------------------------------------ containers

def container_hash(container: Obj) -> str:
    """A stable hex hash of the container spec (HashContainer's role: a changed spec means a new container).

    Resources and resizePolicy are left out so an in-place resize does not restart the container.
    """
    picked = {k: v for k, v in container.items() if k not in ("resources", "resizePolicy")}
    digest = hashlib.sha256(orjson.dumps(picked, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return digest[:16]


def security_context(pod: Obj, container: Obj) -> LinuxContainerSecurityContext:
    """The container's securityContext over the pod's (runAsUser/runAsGroup), plus fsGroup and supplementalGroups."""
    pod_sc = _spec(pod).get("securityContext") or {}
    sc = container.get("securityContext") or {}
    out = LinuxContainerSecurityContext()
    user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    group = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    out.run_as_user = int(user) if user is not None else None
    out.run_as_group = int(group) if group is not None else None
    groups: list[int] = []
    if pod_sc.get("fsGroup") is not None:
        groups.append(int(pod_sc["fsGroup"]))
    groups.extend(int(g) for g in pod_sc.get("supplementalGroups") or [])
    out.supplemental_groups = groups
    out.readonly_rootfs = bool(sc.get("readOnlyRootFilesystem"))
    out.privileged = bool(sc.get("privileged"))
    caps = sc.get("capabilities") or {}
    out.add_capabilities = [str(c) for c in caps.get("add") or []]
    out.drop_capabilities = [str(c) for c in caps.get("drop") or []]
    escalation = sc.get("allowPrivilegeEscalation")
    out.no_new_privs = escalation is not None and not escalation
    return out


def _write_if_changed(path: str, content: str, mode: int) -> None:
    """Rewrite in place (same inode, so a bind-mounted copy sees it) only when the content differs."""
    try:
        with open(path) as f:
            if f.read() == content:
                return
    except FileNotFoundError:
        pass
    with open(path, "w") as f:
        f.write(content)
    os.chmod(path, mode)


def _volume_read_only(pod: Obj) -> dict[str, bool]:
    """Volumes the plugin always mounts read-only (configMap, secret, downwardAPI, projected; PVC readOnly)."""
    out: dict[str, bool] = {}
    for v in _spec(pod).get("volumes") or []:
        ro = any(v.get(k) is not None for k in _RO_VOLUME_SOURCES)
        ro = ro or bool((v.get("persistentVolumeClaim") or {}).get("readOnly"))
        out[str(v.get("name"))] = ro
    return out


def _subpath_host_path(container: Obj, vm: Obj, volume_path: str, env: dict[str, str]) -> str:
    """The host path of a volumeMount with subPath/subPathExpr, creating the sub-directory as upstream does."""
    sub = str(vm.get("subPath") or "")
    if vm.get("subPathExpr"):
        missing: set[str] = set()

        def lookup(key: str) -> str:
            value = env.get(key, "")
            if not value:
                missing.add(key)
            return value

        sub = expand(str(vm["subPathExpr"]), lookup)
        if missing:
            raise CreateContainerConfigError(f"missing value for {', '.join(sorted(missing))}")
    if not sub:
        return volume_path
    if sub.startswith("/"):
        raise CreateContainerConfigError(f"error SubPath `{sub}` must not be an absolute path")
    if ".." in sub.split("/"):
        raise CreateContainerConfigError(f"unable to provision SubPath `{sub}`: must not contain '..'")
    host_path = os.path.join(volume_path, sub)
    mount_name, container_name = vm.get("name"), container.get("name")
    real_volume = os.path.realpath(volume_path)

    def inside(path: str) -> bool:
        return path == real_volume or path.startswith(real_volume.rstrip("/") + "/")

    def escapes() -> CreateContainerConfigError:
        return CreateContainerConfigError(
            f'failed to prepare subPath for volumeMount "{mount_name}" of container "{container_name}"')

    # Resolve before creating anything: a symlink the container planted in the volume must not make the kubelet
    # create or chmod directories outside it. The bind source is the resolved path (no symlink left to swap).
    real = os.path.realpath(host_path)
    if not inside(real):
        raise escapes()
    if not os.path.lexists(real):
        try:
            mode = os.stat(volume_path).st_mode & 0o7777
            os.makedirs(real, exist_ok=True)
            os.chmod(real, mode)
        except OSError:
            raise CreateContainerConfigError(
                f'failed to create subPath directory for volumeMount "{mount_name}" of container '
                f'"{container_name}"') from None
        real = os.path.realpath(host_path)
        if not inside(real):
            raise escapes()
    return real


def container_mounts(pod: Obj, container: Obj, volume_paths: dict[str, str], env: dict[str, str]) -> list[Mount]:
    """makeMounts for the container's volumeMounts (without /etc/hosts and the termination message file)."""
    read_only = _volume_read_only(pod)
    mounts: list[Mount] = []
    for vm in container.get("volumeMounts") or []:
        name = str(vm.get("name") or "")
        if name not in volume_paths:
            raise CreateContainerConfigError(
                f'cannot find volume "{name}" to mount into container "{container.get("name")}"')
        host_path = _subpath_host_path(container, vm, volume_paths[name], env)
        mounts.append(Mount(container_path=str(vm.get("mountPath") or ""), host_path=host_path,
                            readonly=bool(vm.get("readOnly")) or read_only.get(name, False),
                            propagation=_PROPAGATION.get(vm.get("mountPropagation"), "private")))
    return mounts


async def container_config(pod: Obj, container: Obj, *, restart_count: int, image_ref: str,
                           volume_paths: dict[str, str], env: list[tuple[str, str]], pod_dir: str,
                           pod_ip: str = "", cluster_domain: str = "",
                           memory_capacity: int | None = None) -> ContainerConfig:
    """generateContainerConfig for one container instance (attempt = restart_count).

    `pod_ip`: when known (and the pod is not on the host network) the managed hosts file is (re)written in
    <pod_dir>/etc-hosts and mounted at /etc/hosts, unless the container mounts something there itself.
    `cluster_domain` makes the hosts entry of a pod with a subdomain fully qualified.
    `memory_capacity`: node memory in bytes for Burstable OOM scores (default: MemTotal of /proc/meminfo).
    Raises CreateContainerConfigError for a volumeMount that cannot be prepared.
    """
    m = _meta(pod)
    spec = _spec(pod)
    name = str(container.get("name") or "")
    env_map = dict(env)
    lookup = lookup_in(env_map)
    mounts = container_mounts(pod, container, volume_paths, env_map)

    if pod_ip and not spec.get("hostNetwork") and all(mt.container_path != ETC_HOSTS for mt in mounts):
        hostname, domain = pod_hostname_and_domain(pod, cluster_domain)
        hosts_path = os.path.join(pod_dir, HOSTS_FILE)
        os.makedirs(pod_dir, exist_ok=True)
        _write_if_changed(hosts_path, hosts_file_content([pod_ip], hostname, domain, spec.get("hostAliases") or []),
                          0o644)
        mounts.append(Mount(container_path=ETC_HOSTS, host_path=hosts_path))

    message_path = container.get("terminationMessagePath", DEFAULT_TERMINATION_MESSAGE_PATH)
    if message_path:
        container_dir = os.path.join(pod_dir, "containers", name)
        os.makedirs(container_dir, exist_ok=True)
        message_file = os.path.join(container_dir, str(restart_count))
        with open(message_file, "a"):
            pass
        os.chmod(message_file, 0o666)
        mounts.append(Mount(container_path=str(message_path), host_path=message_file))

    annotations = {
        ANNOTATION_CONTAINER_HASH: container_hash(container),
        ANNOTATION_RESTART_COUNT: str(restart_count),
        ANNOTATION_TERMINATION_MESSAGE_PATH: str(message_path or ""),
        ANNOTATION_TERMINATION_MESSAGE_POLICY: str(container.get("terminationMessagePolicy") or "File"),
    }
    if spec.get("terminationGracePeriodSeconds") is not None:
        annotations[ANNOTATION_TERMINATION_GRACE] = str(spec["terminationGracePeriodSeconds"])

    capacity = memory_capacity if memory_capacity is not None else node_memory_capacity()
    return ContainerConfig(
        metadata=ContainerMetadata(name=name, attempt=restart_count),
        image=image_ref,
        command=[expand(str(a), lookup) for a in container.get("command") or []],
        args=[expand(str(a), lookup) for a in container.get("args") or []],
        working_dir=str(container.get("workingDir") or ""),
        envs=list(env),
        mounts=mounts,
        labels={LABEL_POD_NAME: m.get("name") or "", LABEL_POD_NAMESPACE: m.get("namespace") or "",
                LABEL_POD_UID: m.get("uid") or "", LABEL_CONTAINER_NAME: name},
        annotations=annotations,
        log_path=f"{name}/{restart_count}.log",
        stdin=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdinOnce")),
        tty=bool(container.get("tty")),
        resources=container_resources(pod, container, memory_capacity=capacity),
        security=security_context(pod, container),
    )
