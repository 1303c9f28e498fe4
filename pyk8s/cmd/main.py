"""The `pyk8s` command: one binary, one subcommand per component (flags follow upstream names)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import click

from pyk8s.base import logs
from pyk8s.base.run import run


def _port_range(text: str) -> tuple[int, int]:
    try:
        low, high = (int(x) for x in text.split("-", 1))
    except ValueError:
        raise click.BadParameter(f"invalid port range {text!r}, want LOW-HIGH") from None
    if not (0 < low <= high < 65536):
        raise click.BadParameter(f"invalid port range {text!r}")
    return low, high


def _duration_seconds(text: str, flag: str) -> float:
    from pyk8s.api.protobuf import parse_go_duration

    try:
        return parse_go_duration(text) / 1e9
    except Exception as e:
        raise click.BadParameter(f"{flag}: {e}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """pyk8s: Kubernetes, written in Python."""


def _apiserver_options(f):  # type: ignore[no-untyped-def]
    options = [
        click.option("--data-dir", required=True, type=click.Path(file_okay=False), help="State and PKI directory."),
        click.option("--secure-port", default=6443, show_default=True, type=click.IntRange(0, 65535)),
        click.option("--bind-address", default="0.0.0.0", show_default=True),
        click.option("--advertise-address", default="", help="Address the kubernetes Service points at."),
        click.option("--datastore-endpoint", default=None, help="sqlite:///path (default) or etcd://host:port."),
        click.option("--service-cluster-ip-range", default="10.96.0.0/12", show_default=True),
        click.option("--service-node-port-range", default="30000-32767", show_default=True),
        click.option("--token-auth-file", default=None, type=click.Path(dir_okay=False, exists=True)),
        click.option("--etcd-compaction-interval", "compaction_interval", default="5m0s", show_default=True,
                     help="How often the store is compacted (Go duration; 0 disables)."),
        click.option("--kubelet-netns", default=None, type=click.Path(dir_okay=False, exists=True),
                     help="pyk8s: dial kubelets from inside this network namespace (local clusters)."),
        click.option("-v", "--v", "verbosity", default=0, type=int, help="Log verbosity (klog levels)."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def _run_apiserver(data_dir: str, secure_port: int, bind_address: str, advertise_address: str,
                   datastore_endpoint: str | None, service_cluster_ip_range: str, service_node_port_range: str,
                   token_auth_file: str | None, compaction_interval: str, kubelet_netns: str | None,
                   verbosity: int) -> None:
    from pyk8s.apiserver.server import APIServerConfig, run_apiserver

    logs.setup(verbosity, "apiserver")
    cfg = APIServerConfig(
        data_dir=data_dir, secure_port=secure_port, bind_address=bind_address, advertise_address=advertise_address,
        datastore_endpoint=datastore_endpoint, service_cluster_ip_range=service_cluster_ip_range,
        service_node_port_range=_port_range(service_node_port_range), token_auth_file=token_auth_file,
        compaction_interval=_duration_seconds(compaction_interval, "--etcd-compaction-interval"),
        kubelet_netns=kubelet_netns,
    )
    run(run_apiserver(cfg))


@main.command()
@_apiserver_options
def apiserver(**kwargs) -> None:  # type: ignore[no-untyped-def]
    """Run the API server (writes DATA_DIR/admin.kubeconfig on first start)."""
    _run_apiserver(**kwargs)


@main.command()
@_apiserver_options
@click.option("--disable-agent", is_flag=True, help="Run no node components on this machine.")
@click.option("--cluster-cidr", default="10.244.0.0/16", show_default=True, help="Pod network; nodes get /24s of it.")
@click.option("--kube-controller-manager-arg", "cm_args", multiple=True, metavar="FLAG=VALUE",
              help="Extra flag for the controller-manager (repeatable), e.g. node-monitor-grace-period=10s.")
@click.option("--kube-scheduler-arg", "scheduler_args", multiple=True, metavar="FLAG=VALUE",
              help="Extra flag for the scheduler (repeatable).")
def server(disable_agent: bool, cluster_cidr: str, cm_args: tuple[str, ...], scheduler_args: tuple[str, ...],
           **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Run the control plane: apiserver, controller-manager and scheduler as supervised processes."""
    from pathlib import Path

    from pyk8s.cmd.supervisor import ServerConfig, free_local_port, run_server

    logs.setup(kwargs["verbosity"], "server")
    ipaddress_check(cluster_cidr, "--cluster-cidr")
    apiserver_args = ["--data-dir", kwargs["data_dir"], "--bind-address", kwargs["bind_address"],
                      "--service-cluster-ip-range", kwargs["service_cluster_ip_range"],
                      "--service-node-port-range", kwargs["service_node_port_range"],
                      "--etcd-compaction-interval", kwargs["compaction_interval"], "-v", str(kwargs["verbosity"])]
    for flag in ("advertise_address", "datastore_endpoint", "token_auth_file", "kubelet_netns"):
        if kwargs[flag]:
            apiserver_args += ["--" + flag.replace("_", "-"), str(kwargs[flag])]
    verbosity = ["-v", str(kwargs["verbosity"])]
    cfg = ServerConfig(
        data_dir=Path(kwargs["data_dir"]), apiserver_args=apiserver_args, secure_port=kwargs["secure_port"],
        controller_manager_args=["--secure-port", str(free_local_port()), "--allocate-node-cidrs=true", "--cluster-cidr", cluster_cidr,
                                 "--root-ca-file", str(Path(kwargs["data_dir"]) / "pki" / "ca.crt"),
                                 *verbosity, *_extra_args(cm_args)],
        # Upstream's 50 QPS would cap binding at ~50 pods/s; the all-in-one scheduler talks to a local apiserver.
        scheduler_args=["--secure-port", str(free_local_port()), "--kube-api-qps", "1000", "--kube-api-burst", "2000", *verbosity,
                        *_extra_args(scheduler_args)],
    )
    run(run_server(cfg))


def ipaddress_check(cidr: str, flag: str) -> None:
    import ipaddress

    try:
        ipaddress.ip_network(cidr)
    except ValueError as e:
        raise click.BadParameter(f"{flag}: {e}") from None


def _extra_args(items: tuple[str, ...]) -> list[str]:
    """k3s-style FLAG=VALUE items to `--FLAG=VALUE` arguments."""
    out = []
    for item in items:
        if "=" not in item:
            raise click.BadParameter(f"{item!r}: want FLAG=VALUE")
        out.append("--" + item.lstrip("-"))
    return out


def _run_component(name: str, main_coro: Coroutine[Any, Any, None]) -> None:
    """Run a component; a bad kubeconfig or a lost lease ends it with one line and a non-zero exit (as upstream,
    a component that loses its lease exits and is restarted)."""
    from pyk8s.client.leaderelection import LeadershipLost
    from pyk8s.pki.kubeconfig import KubeconfigError

    try:
        run(main_coro)
    except KubeconfigError as e:
        raise click.ClickException(f"{name}: invalid kubeconfig: {e}") from None
    except LeadershipLost as e:
        raise click.ClickException(f"{name}: leaderelection lost: {e}") from None


def _leader_election_durations(lease: str, renew: str, retry: str) -> tuple[float, float, float]:
    """The three leader-election durations, checked as client-go's NewLeaderElector checks them."""
    lease_s = _duration_seconds(lease, "--leader-elect-lease-duration")
    renew_s = _duration_seconds(renew, "--leader-elect-renew-deadline")
    retry_s = _duration_seconds(retry, "--leader-elect-retry-period")
    if lease_s <= renew_s:
        raise click.BadParameter("leaseDuration must be greater than renewDeadline")
    if renew_s <= retry_s * 1.2:
        raise click.BadParameter("renewDeadline must be greater than retryPeriod*JitterFactor")
    if retry_s <= 0:
        raise click.BadParameter("retryPeriod must be greater than zero")
    return lease_s, renew_s, retry_s


def _positive_seconds(text: str, flag: str) -> float:
    seconds = _duration_seconds(text, flag)
    if seconds <= 0:
        raise click.BadParameter(f"{flag}: must be greater than zero")
    return seconds


def _leader_election_options(f):  # type: ignore[no-untyped-def]
    options = [
        click.option("--kubeconfig", required=True, type=click.Path(dir_okay=False, exists=True)),
        click.option("--leader-elect", type=click.BOOL, default=True, show_default=True),
        click.option("--leader-elect-lease-duration", default="15s", show_default=True),
        click.option("--leader-elect-renew-deadline", default="10s", show_default=True),
        click.option("--leader-elect-retry-period", default="2s", show_default=True),
        click.option("--bind-address", default="127.0.0.1", show_default=True, help="Address for healthz/metrics."),
        click.option("-v", "--v", "verbosity", default=0, type=int, help="Log verbosity (klog levels)."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


@main.command("controller-manager")
@_leader_election_options
@click.option("--secure-port", default=10257, show_default=True, type=click.IntRange(0, 65535),
              help="healthz/metrics port (0: off).")
@click.option("--controllers", default="*", show_default=True, help="Comma-separated; '*' all, 'foo', '-foo'.")
@click.option("--allocate-node-cidrs", type=click.BOOL, default=False, show_default=True)
@click.option("--cluster-cidr", default="10.244.0.0/16", show_default=True)
@click.option("--node-cidr-mask-size", default=24, show_default=True, type=click.IntRange(1, 32))
@click.option("--node-monitor-period", default="5s", show_default=True)
@click.option("--node-monitor-grace-period", default="50s", show_default=True)
@click.option("--node-startup-grace-period", default="1m0s", show_default=True)
@click.option("--terminated-pod-gc-threshold", default=12500, show_default=True, type=int)
@click.option("--root-ca-file", default="", help="CA bundle published as kube-root-ca.crt (default: the kubeconfig's).")
def controller_manager(kubeconfig: str, leader_elect: bool, leader_elect_lease_duration: str,
                       leader_elect_renew_deadline: str, leader_elect_retry_period: str, bind_address: str,
                       verbosity: int, secure_port: int, controllers: str, allocate_node_cidrs: bool,
                       cluster_cidr: str, node_cidr_mask_size: int, node_monitor_period: str,
                       node_monitor_grace_period: str, node_startup_grace_period: str,
                       terminated_pod_gc_threshold: int, root_ca_file: str) -> None:
    """Run the controller manager (Deployment, ReplicaSet, ..., garbage collector, node lifecycle)."""
    from pyk8s.controllers.app import ControllerManagerConfig, run_controller_manager
    from pyk8s.controllers.framework import ControllerOptions
    from pyk8s.controllers.manager import UnknownControllerError, known_descriptors, select
    from pyk8s.controllers.rootcacertpublisher import ROOT_CA_OPTION

    logs.setup(verbosity, "controller-manager")
    lease, renew, retry = _leader_election_durations(leader_elect_lease_duration, leader_elect_renew_deadline,
                                                     leader_elect_retry_period)
    ipaddress_check(cluster_cidr, "--cluster-cidr")
    names = controllers.split(",")
    try:
        select(known_descriptors(), names)
    except UnknownControllerError as e:
        raise click.BadParameter(str(e), param_hint="--controllers") from None
    options = ControllerOptions(
        node_monitor_period=_duration_seconds(node_monitor_period, "--node-monitor-period"),
        node_monitor_grace_period=_duration_seconds(node_monitor_grace_period, "--node-monitor-grace-period"),
        node_startup_grace_period=_duration_seconds(node_startup_grace_period, "--node-startup-grace-period"),
        cluster_cidr=cluster_cidr, node_cidr_mask_size=node_cidr_mask_size, allocate_node_cidrs=allocate_node_cidrs,
        terminated_pod_gc_threshold=terminated_pod_gc_threshold,
        extra={ROOT_CA_OPTION: _root_ca(root_ca_file, kubeconfig)},
    )
    cfg = ControllerManagerConfig(
        kubeconfig=kubeconfig, controllers=names, leader_elect=leader_elect,
        lease_duration=lease, renew_deadline=renew, retry_period=retry,
        bind_address=bind_address, secure_port=secure_port, options=options)
    _run_component("controller-manager", run_controller_manager(cfg))


def _root_ca(root_ca_file: str, kubeconfig: str) -> bytes:
    """What the root CA publisher hands out: --root-ca-file, else the kubeconfig's CA (upstream's fallback)."""
    from pyk8s.controllers.rootcacertpublisher import RootCAError, read_root_ca
    from pyk8s.pki.kubeconfig import KubeconfigError, load_kubeconfig

    if root_ca_file:
        try:
            return read_root_ca(root_ca_file)
        except RootCAError as e:
            raise click.BadParameter(str(e), param_hint="--root-ca-file") from None
    try:
        return load_kubeconfig(kubeconfig).ca_pem or b""
    except KubeconfigError:
        return b""  # reported when the client is built


@main.command()
@_leader_election_options
@click.option("--secure-port", default=10259, show_default=True, type=click.IntRange(0, 65535),
              help="healthz/metrics port (0: off).")
@click.option("--kube-api-qps", default=50.0, show_default=True, type=float, help="Requests/s to the apiserver.")
@click.option("--kube-api-burst", default=100, show_default=True, type=int)
@click.option("--percentage-of-nodes-to-score", default=None, type=click.IntRange(0, 100),
              help="Default: adaptive, as upstream (50% minus nodes/125, at least 5%).")
def scheduler(kubeconfig: str, leader_elect: bool, leader_elect_lease_duration: str, leader_elect_renew_deadline: str,
              leader_elect_retry_period: str, bind_address: str, verbosity: int, secure_port: int,
              kube_api_qps: float, kube_api_burst: int, percentage_of_nodes_to_score: int | None) -> None:
    """Run the scheduler (assigns pods to nodes through pods/binding)."""
    from pyk8s.base.health import start_health_server
    from pyk8s.scheduler.scheduler import main as scheduler_main

    logs.setup(verbosity, "scheduler")
    lease, renew, retry = _leader_election_durations(leader_elect_lease_duration, leader_elect_renew_deadline,
                                                     leader_elect_retry_period)

    async def serve() -> None:
        health = await start_health_server("scheduler", bind_address, secure_port)
        try:
            await scheduler_main(
                kubeconfig, leader_elect=leader_elect, kube_api_qps=kube_api_qps, kube_api_burst=kube_api_burst,
                percentage_of_nodes_to_score=percentage_of_nodes_to_score,
                leader_elect_lease_duration=lease, leader_elect_renew_deadline=renew, leader_elect_retry_period=retry)
        finally:
            await health.stop()

    _run_component("scheduler", serve())


@main.command("hollow-nodes")
@click.option("--kubeconfig", required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--count", required=True, type=click.IntRange(1, 65000),
              help="How many simulated nodes (their made-up addresses come from one /16).")
@click.option("--name-prefix", default="hollow-node-", show_default=True)
@click.option("--node-lease-duration-seconds", default=40, show_default=True, type=click.IntRange(1))
@click.option("--heartbeat-interval", default="10s", show_default=True, help="Lease renewal period.")
@click.option("--node-status-update-frequency", default="1m0s", show_default=True)
@click.option("--pod-run-time", default="1s", show_default=True,
              help="How long a restartPolicy Never/OnFailure pod runs before it completes.")
@click.option("-v", "--v", "verbosity", default=0, type=int, help="Log verbosity (klog levels).")
def hollow_nodes(kubeconfig: str, count: int, name_prefix: str, node_lease_duration_seconds: int,
                 heartbeat_interval: str, node_status_update_frequency: str, pod_run_time: str, verbosity: int) -> None:
    """Run COUNT simulated nodes (kubemark/kwok style) in one process."""
    from pyk8s.kubelet.hollow import main as hollow_main

    logs.setup(verbosity, "hollow-nodes")
    _run_component("hollow-nodes", hollow_main(kubeconfig, count, name_prefix, lease_duration=node_lease_duration_seconds,
                    heartbeat_interval=_positive_seconds(heartbeat_interval, "--heartbeat-interval"),
                    status_update_frequency=_positive_seconds(node_status_update_frequency,
                                                              "--node-status-update-frequency"),
                    pod_run_seconds=_duration_seconds(pod_run_time, "--pod-run-time")))


def _register() -> None:
    from pyk8s.cmd.images import images
    from pyk8s.cmd.kubelet import kubelet
    from pyk8s.cmd.up import down, up

    main.add_command(up)
    main.add_command(down)
    main.add_command(kubelet)
    main.add_command(images)


_register()

if __name__ == "__main__":
    main()
