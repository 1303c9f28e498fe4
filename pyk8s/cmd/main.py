"""The `pyk8s` command: one binary, one subcommand per component (flags follow upstream names)."""

from __future__ import annotations

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
        click.option("-v", "--v", "verbosity", default=0, type=int, help="Log verbosity (klog levels)."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def _run_apiserver(data_dir: str, secure_port: int, bind_address: str, advertise_address: str,
                   datastore_endpoint: str | None, service_cluster_ip_range: str, service_node_port_range: str,
                   token_auth_file: str | None, compaction_interval: str, verbosity: int) -> None:
    from pyk8s.apiserver.server import APIServerConfig, run_apiserver

    logs.setup(verbosity, "apiserver")
    cfg = APIServerConfig(
        data_dir=data_dir, secure_port=secure_port, bind_address=bind_address, advertise_address=advertise_address,
        datastore_endpoint=datastore_endpoint, service_cluster_ip_range=service_cluster_ip_range,
        service_node_port_range=_port_range(service_node_port_range), token_auth_file=token_auth_file,
        compaction_interval=_duration_seconds(compaction_interval, "--etcd-compaction-interval"),
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
def server(disable_agent: bool, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Run the control plane (today: the API server; controllers and scheduler come next)."""
    _run_apiserver(**kwargs)


def _register() -> None:
    from pyk8s.cmd.up import down, up

    main.add_command(up)
    main.add_command(down)


_register()

if __name__ == "__main__":
    main()
