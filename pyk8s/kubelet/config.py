"""The kubelet's component configuration (upstream KubeletConfiguration), with upstream's defaults.

Field names are the snake-case forms of upstream's JSON names (nodeStatusUpdateFrequency ->
node_status_update_frequency); durations are seconds. Paths default to the node layout of DESIGN.md and are
all configurable so tests run in temporary directories. `cmd/` builds one of these from flags.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field


def _default_node_name() -> str:
    return socket.gethostname().lower()


@dataclass
class KubeletConfig:
    node_name: str = field(default_factory=_default_node_name)
    node_ip: str = ""  # InternalIP reported in node status and used as the pods' hostIP
    root_dir: str = "/var/lib/kubelet"  # pods/<uid>/... live under it
    pod_log_dir: str = "/var/log/pods"
    pod_cidr: str = ""  # only used when the Node's spec has none (standalone clusters)
    cluster_dns: list[str] = field(default_factory=list)
    cluster_domain: str = "cluster.local"
    node_labels: dict[str, str] = field(default_factory=dict)
    register_node: bool = True
    register_with_taints: list[dict[str, str]] = field(default_factory=list)
    max_pods: int = 110
    pod_pids_limit: int = -1
    kubelet_port: int = 10250
    # Heartbeats (upstream defaults: status 10 s, report 5 min, lease 40 s renewed every duration/4).
    node_status_update_frequency: float = 10.0
    node_status_report_frequency: float = 300.0
    node_lease_duration_seconds: int = 40
    node_status_max_images: int = 50
    # Pod syncing.
    sync_frequency: float = 60.0  # resync of every pod worker
    pleg_relist_period: float = 1.0
    housekeeping_interval: float = 2.0
    # Container restart backoff (CrashLoopBackOff) and image pull backoff.
    crash_loop_backoff_initial: float = 10.0
    crash_loop_backoff_max: float = 300.0
    image_pull_backoff_initial: float = 10.0
    image_pull_backoff_max: float = 300.0
    # Images.
    image_gc_high_threshold_percent: int = 85
    image_gc_low_threshold_percent: int = 80
    image_minimum_gc_age: float = 120.0
    image_gc_period: float = 300.0  # upstream's ImageGCPeriod
    serialize_image_pulls: bool = True
    max_parallel_image_pulls: int | None = None
    # Eviction (hard thresholds; also subtracted from capacity to give allocatable).
    eviction_hard: dict[str, str] = field(default_factory=lambda: {
        "memory.available": "100Mi", "nodefs.available": "10%", "nodefs.inodesFree": "5%",
        "imagefs.available": "15%"})
    system_reserved: dict[str, str] = field(default_factory=dict)
    kube_reserved: dict[str, str] = field(default_factory=dict)
    # Cgroups: pods live under <cgroup_root>/kubepods/... ("" = /pyk8s/<node_name>).
    cgroup_root: str = ""
    cgroups_per_qos: bool = True
    runtime_request_timeout: float = 120.0
    # Termination: the minimum grace period any container gets once preStop has run (upstream: 2 s).
    minimum_grace_period_seconds: int = 2

    @property
    def pods_dir(self) -> str:
        return os.path.join(self.root_dir, "pods")

    def pod_dir(self, uid: str) -> str:
        return os.path.join(self.root_dir, "pods", uid)

    @property
    def effective_cgroup_root(self) -> str:
        return self.cgroup_root or f"/pyk8s/{self.node_name}"
