"""`pyk8s kubelet`: flags → the runc runtime, the image store, the CNI network, the kubelet and its server.

Wiring only. One pyk8s-only flag changes where the node lives: `--netns PATH` makes the kubelet enter that
network namespace at start-up (so the pods' bridge, the pod namespaces, the iptables rules and the kubelet's
own server all live in the node's namespace), while the connections to the API server and to image
registries keep being opened in the namespace the kubelet was started in. That is how a local node in its own
namespace reaches an API server on the host's 127.0.0.1 without any route for a cluster address.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

log = logging.getLogger("pyk8s.kubelet")

DEFAULT_REGISTRIES = "/etc/pyk8s/registries.yaml"


@dataclass
class KubeletFlags:
    kubeconfig: str
    hostname_override: str
    node_ip: str
    root_dir: str
    pod_logs_dir: str
    runtime_dir: str
    runc_root: str
    image_dir: str
    registries: str
    cgroup_root: str
    cluster_dns: list[str]
    cluster_domain: str
    port: int
    address: str
    healthz_port: int
    client_ca_file: str
    tls_cert_file: str
    tls_private_key_file: str
    netns: str
    pod_cidr: str
    max_pods: int
    node_status_update_frequency: float
    cni_bin_dir: str
    image_gc_high_threshold: int
    image_gc_low_threshold: int
    verbosity: int


def enter_node_netns(path: str) -> str:
    """Move this process's main thread into the node namespace at `path`; return a path naming the namespace
    it came from (kept open for the life of the process) for sockets that must still be opened there.

    Called before the event loop and any thread start, so every thread, subprocess (runc, CNI plugins) and
    listening socket made later lives in the node's namespace.
    """
    from pyk8s.base import netns

    if not netns.is_netns(path):
        raise click.ClickException(f"--netns {path}: not a network namespace")
    host_fd = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    host_path = f"/proc/{os.getpid()}/fd/{host_fd}"
    node_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        netns.setns(node_fd)
    finally:
        os.close(node_fd)
    return host_path


def _socket_factory(host_netns: str) -> Callable[[tuple[Any, ...]], socket.socket] | None:
    if not host_netns:
        return None
    from pyk8s.base import netns

    return netns.socket_factory_in_netns(host_netns)


def watch_children_with_pidfds() -> bool:
    """Have asyncio learn of its subprocesses' exits through pidfds on the running loop (Python 3.11).

    3.11's default child watcher starts a thread per subprocess (CNI plugins, runc start/kill, iptables) that
    lives until the child exits; a pidfd in the loop's epoll set does the same for one file descriptor. 3.12
    picks pidfds itself. Only the kubelet's loop starts subprocesses; shims forked by the zygote are not our
    children, exec'd fallback shims are and are waited for like the rest. False when pidfds are not available.
    """
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:  # kernel before 5.3, or a seccomp filter refusing it
        return False
    watcher = asyncio.PidfdChildWatcher()
    watcher.attach_loop(asyncio.get_running_loop())
    asyncio.set_child_watcher(watcher)
    return True


async def run_kubelet(flags: KubeletFlags, host_netns: str) -> None:
    from aiohttp import web

    from pyk8s.base.gctune import tune_gc
    from pyk8s.base.health import start_health_server
    from pyk8s.client.kubeconfig import load_client_config
    from pyk8s.client.rest import RESTClient
    from pyk8s.kubelet.config import KubeletConfig
    from pyk8s.kubelet.cri.runc.cni import CNIPodNetwork
    from pyk8s.kubelet.cri.runc.images.gc import ImageGCPolicy, collect_images
    from pyk8s.kubelet.cri.runc.images.mirrors import RegistryConfig, load_registries
    from pyk8s.kubelet.cri.runc.images.store import ImageStore
    from pyk8s.kubelet.cri.runc.runtime import RuncRuntime
    from pyk8s.kubelet.kubelet import Kubelet, ModulePodConfig
    from pyk8s.kubelet.objectcache import WatchedObjects
    from pyk8s.kubelet.server import tls
    from pyk8s.kubelet.server.app import build_kubelet_app
    from pyk8s.kubelet.volumes import VolumeManager

    watch_children_with_pidfds()
    node_name = flags.hostname_override or socket.gethostname().lower()
    factory = _socket_factory(host_netns)
    client_config = load_client_config(flags.kubeconfig, user_agent=f"kubelet/{node_name}")
    client_config.socket_factory = factory
    client = RESTClient(client_config)

    registries = RegistryConfig()
    if flags.registries and (flags.registries != DEFAULT_REGISTRIES or os.path.exists(flags.registries)):
        registries = load_registries(flags.registries)
    images = ImageStore(flags.image_dir, registries=registries, socket_factory=factory)

    config = KubeletConfig(node_name=node_name, node_ip=flags.node_ip, root_dir=flags.root_dir,
                           pod_log_dir=flags.pod_logs_dir, pod_cidr=flags.pod_cidr, cluster_dns=flags.cluster_dns,
                           cluster_domain=flags.cluster_domain, max_pods=flags.max_pods, kubelet_port=flags.port,
                           node_status_update_frequency=flags.node_status_update_frequency,
                           cgroup_root=flags.cgroup_root)
    pod_cidr_box: dict[str, str] = {"cidr": flags.pod_cidr}
    network = CNIPodNetwork(pod_cidr=lambda: pod_cidr_box["cidr"] or None,
                            data_dir=os.path.join(flags.runtime_dir, "cni"), plugin_dir=flags.cni_bin_dir)
    # Pod namespaces are named after the node's own namespace, so tearing the node down finds them.
    netns_prefix = f"{os.path.basename(flags.netns)}-" if flags.netns else "pyk8s-"
    runtime = RuncRuntime(state_dir=flags.runtime_dir, runc_root=flags.runc_root or f"/run/pyk8s/{node_name}/runc",
                          cgroup_root=config.effective_cgroup_root, layers=images, network=network, netns_prefix=netns_prefix)
    objects = WatchedObjects(client)  # the ConfigMaps and Secrets of volumes and env, watched, as upstream's
    volumes = VolumeManager(client, config.pods_dir, node_name=node_name, objects=objects)
    gc_policy = ImageGCPolicy(high_threshold_percent=flags.image_gc_high_threshold,
                              low_threshold_percent=flags.image_gc_low_threshold)
    kubelet = Kubelet(client, runtime, images, config, volumes=volumes,
                      pod_config=ModulePodConfig(objects, cluster_domain=flags.cluster_domain),
                      on_pod_cidr=lambda cidr: pod_cidr_box.__setitem__("cidr", cidr),
                      image_gc=lambda in_use: collect_images(images, in_use=in_use, policy=gc_policy))

    cert_dir = os.path.join(flags.root_dir, "pki")
    if flags.tls_cert_file and flags.tls_private_key_file:
        crt, key = flags.tls_cert_file, flags.tls_private_key_file
    else:
        ips = [flags.node_ip] if flags.node_ip else []
        crt_path, key_path = tls.ensure_serving_cert(cert_dir, node_name, ips=ips)
        crt, key = str(crt_path), str(key_path)
    ssl_ctx = tls.server_ssl_context(crt, key, flags.client_ca_file)
    app = build_kubelet_app(runtime, node_name=node_name, authorizer=tls.default_authorizer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, flags.address, flags.port, ssl_context=ssl_ctx, reuse_address=True)
    try:
        await site.start()
    except OSError as e:
        raise SystemExit(f"kubelet: cannot listen on {flags.address}:{flags.port}: {e.strerror or e}") from None
    health = await start_health_server("kubelet", "127.0.0.1", flags.healthz_port)
    print(f"kubelet {node_name}: serving on https://{flags.address}:{flags.port}", flush=True)
    tune_gc()  # see pyk8s/base/gctune.py: 6% of the kubelet's CPU went to collections while pods started
    try:
        await kubelet.run()
    finally:
        await health.stop()
        await runner.cleanup()
        try:
            await runtime.close()  # the shim zygote; containers and their shims keep running, as upstream's do
        finally:
            await objects.close()
            await client.close()


def _ip_list(text: str) -> list[str]:
    import ipaddress

    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            out.append(str(ipaddress.ip_address(part)))
        except ValueError:
            raise click.BadParameter(f"invalid IP address {part!r}") from None
    return out


@click.command("kubelet")
@click.option("--kubeconfig", required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--hostname-override", default="", help="Node name (default: the host name).")
@click.option("--node-ip", default="", help="InternalIP of the node (default: the first non-loopback address).")
@click.option("--root-dir", default="/var/lib/kubelet", show_default=True)
@click.option("--pod-logs-dir", default="/var/log/pods", show_default=True)
@click.option("--runtime-dir", default="/var/lib/pyk8s/runc", show_default=True,
              help="Container runtime state (bundles, shims, CNI results).")
@click.option("--runc-root", default="", help="runc --root (default /run/pyk8s/<node>/runc).")
@click.option("--image-dir", default="/var/lib/pyk8s/images", show_default=True)
@click.option("--registries", default=DEFAULT_REGISTRIES, show_default=True,
              help="Registry mirrors and credentials (k3s registries.yaml format).")
@click.option("--cgroup-root", default="", help="Parent cgroup of the pods (default /pyk8s/<node>).")
@click.option("--cluster-dns", default="", help="Comma-separated DNS server IPs for ClusterFirst pods.")
@click.option("--cluster-domain", default="cluster.local", show_default=True)
@click.option("--port", default=10250, show_default=True, type=click.IntRange(1, 65535))
@click.option("--address", default="0.0.0.0", show_default=True, help="Address the kubelet server binds.")
@click.option("--healthz-port", default=10248, show_default=True, type=click.IntRange(0, 65535))
@click.option("--client-ca-file", default="", help="CA of the client certificates the kubelet server accepts.")
@click.option("--tls-cert-file", default="")
@click.option("--tls-private-key-file", default="")
@click.option("--netns", default="", help="pyk8s: run the node in this network namespace (local clusters).")
@click.option("--pod-cidr", default="", help="Pod CIDR when the Node object has none (standalone).")
@click.option("--max-pods", default=110, show_default=True, type=click.IntRange(1))
@click.option("--node-status-update-frequency", default="10s", show_default=True)
@click.option("--cni-bin-dir", default="/usr/lib/cni", show_default=True)
@click.option("--image-gc-high-threshold", default=85, show_default=True, type=click.IntRange(0, 100),
              help="Image disk usage percent above which image GC runs.")
@click.option("--image-gc-low-threshold", default=80, show_default=True, type=click.IntRange(0, 100),
              help="Image disk usage percent image GC frees down to.")
@click.option("-v", "--v", "verbosity", default=0, type=int, help="Log verbosity (klog levels).")
def kubelet(**kw: Any) -> None:
    """Run the node agent: real containers with runc, CNI networking, an OCI image store."""
    from pyk8s.base import logs
    from pyk8s.cmd.main import _duration_seconds, _run_component

    logs.setup(kw["verbosity"], "kubelet")
    kw["cluster_dns"] = _ip_list(kw["cluster_dns"])
    kw["node_status_update_frequency"] = _duration_seconds(kw["node_status_update_frequency"],
                                                           "--node-status-update-frequency")
    if os.geteuid() != 0:
        raise click.ClickException("the kubelet needs root (runc, network namespaces, cgroups, mounts)")
    flags = KubeletFlags(**kw)
    if not flags.client_ca_file:
        raise click.UsageError("--client-ca-file is required: the kubelet server (exec, attach, logs, port-forward) "
                               "authenticates the API server by its client certificate")
    if flags.image_gc_low_threshold > flags.image_gc_high_threshold:
        raise click.BadParameter(f"--image-gc-low-threshold ({flags.image_gc_low_threshold}) must not be higher than "
                                 f"--image-gc-high-threshold ({flags.image_gc_high_threshold})")
    host_netns = enter_node_netns(flags.netns) if flags.netns else ""
    _run_component("kubelet", run_kubelet(flags, host_netns))
