"""`pyk8s up` / `pyk8s down`: a local cluster in the background, and the kubeconfig kubectl uses.

`up` starts `pyk8s server` detached (log and PID file in the data dir), waits until /readyz answers,
then installs the admin kubeconfig as ~/.kube/config unless that file belongs to another cluster
(then it prints the KUBECONFIG to export). `down` stops exactly the process `up` started.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import click
import psutil

PID_FILE = "server.pid"
LOG_FILE = "server.log"
MARKER = "# written by pyk8s up"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ours(pid: int, data_dir: Path) -> bool:
    """Is `pid` the `pyk8s server` started for this data dir (not an unrelated process reusing the PID)?"""
    try:
        cmdline = psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return "server" in cmdline and str(data_dir) in cmdline


def _read_pid(data_dir: Path) -> int | None:
    try:
        pid = int((data_dir / PID_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) and _ours(pid, data_dir) else None


def readyz_ok(url: str) -> bool:
    """Does the apiserver at `url` answer /readyz with 200? (its certificate is not checked: any local answer)"""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"{url}/readyz", context=ctx, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def _install_kubeconfig(src: Path) -> str:
    home_cfg = Path.home() / ".kube" / "config"
    if home_cfg.exists() and MARKER not in home_cfg.read_text():
        return f"export KUBECONFIG={src}   # ~/.kube/config belongs to another cluster; left untouched"
    home_cfg.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(home_cfg, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(MARKER + "\n" + src.read_text())
    os.chmod(home_cfg, 0o600)
    return f"kubeconfig installed at {home_cfg} (also {src})"


@click.command("up")
@click.option("--data-dir", default="/var/lib/pyk8s", show_default=True, type=click.Path(file_okay=False))
@click.option("--secure-port", default=6443, show_default=True, type=int)
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for readiness.")
@click.option("--nodes", default=1, show_default=True, type=click.IntRange(0, 20),
              help="Local nodes (each in its own network namespace, running real containers); 0 = control plane only.")
@click.option("--demo/--no-demo", default=True, show_default=True, help="Deploy the demo web Deployment.")
def up(data_dir: str, secure_port: int, timeout: float, nodes: int, demo: bool) -> None:
    """Start a local cluster on the embedded store and install its kubeconfig."""
    data = Path(data_dir)
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    data.chmod(0o700)
    server_args = []
    if nodes:
        if os.geteuid() != 0:
            raise click.ClickException("local nodes need root (runc, network namespaces); use --nodes 0 otherwise")
        from pyk8s.cmd import localnodes

        network, local_nodes = localnodes.ensure_network(data, nodes)
        server_args = ["--kubelet-netns", network.switch_netns_path]
    pid = _read_pid(data)
    if pid is None:
        log = open(data / LOG_FILE, "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "pyk8s.cmd.main", "server", "--data-dir", str(data),
             "--secure-port", str(secure_port), "--bind-address", "127.0.0.1", "--disable-agent", *server_args],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        (data / PID_FILE).write_text(str(proc.pid))
        pid = proc.pid
        click.echo(f"started pyk8s server (pid {pid}), log {data / LOG_FILE}")
    else:
        click.echo(f"pyk8s server already running (pid {pid})")
    deadline = time.monotonic() + timeout
    while not readyz_ok(f"https://127.0.0.1:{secure_port}"):
        if not _alive(pid):
            tail = (data / LOG_FILE).read_text(errors="replace")[-2000:]
            raise click.ClickException(f"pyk8s server exited during start-up; log tail:\n{tail}")
        if time.monotonic() > deadline:
            raise click.ClickException(f"pyk8s server not ready after {timeout:.0f}s; see {data / LOG_FILE}")
        time.sleep(0.2)
    click.echo(_install_kubeconfig(data / "admin.kubeconfig"))
    if not nodes:
        click.echo("cluster is up: try `kubectl get ns`")
        return
    started = localnodes.start_kubelets(data, network, local_nodes)
    localnodes.wait_nodes_ready(f"https://127.0.0.1:{secure_port}", data / "admin.kubeconfig", local_nodes, timeout,
                                started)
    if demo:
        localnodes.apply_demo(data / "admin.kubeconfig")
        click.echo(f"demo: Deployment {localnodes.DEMO_NAME} (2 busybox httpd pods). Try:\n"
                   f"  kubectl get pods -o wide\n"
                   f"  kubectl logs deploy/{localnodes.DEMO_NAME}\n"
                   f"  kubectl exec deploy/{localnodes.DEMO_NAME} -- cat /etc/hostname\n"
                   f"  kubectl port-forward deploy/{localnodes.DEMO_NAME} 8080:8080 & curl http://127.0.0.1:8080/")
    click.echo("cluster is up: try `kubectl get nodes -o wide`")


@click.command("down")
@click.option("--data-dir", default="/var/lib/pyk8s", show_default=True, type=click.Path(file_okay=False))
@click.option("--timeout", default=30.0, show_default=True)
def down(data_dir: str, timeout: float) -> None:
    """Stop the cluster `pyk8s up` started (by its recorded PIDs) and remove its local nodes' containers."""
    data = Path(data_dir)
    from pyk8s.cmd import localnodes

    left = localnodes.stop_nodes(data)
    if left:
        click.echo("could not remove: " + "; ".join(left), err=True)
    pid = _read_pid(data)
    if pid is None:
        click.echo("pyk8s server is not running")
        (data / PID_FILE).unlink(missing_ok=True)
        return
    localnodes.stop_pid(pid, timeout)
    (data / PID_FILE).unlink(missing_ok=True)
    click.echo(f"stopped pyk8s server (pid {pid})")
