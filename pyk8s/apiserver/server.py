"""Run the apiserver: PKI on first start, the store, TLS listener, bootstrap, readiness."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import sys
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from pyk8s.apiserver.app import APIServer
from pyk8s.apiserver.authn import load_token_file
from pyk8s.apiserver.bootstrap import bootstrap
from pyk8s.apiserver.compaction import DEFAULT_COMPACTION_INTERVAL, compact_periodically
from pyk8s.apiserver.kubeletclient import KubeletClient
from pyk8s.apiserver.satokens import TokenSigner
from pyk8s.base.gctune import tune_gc
from pyk8s.pki.bootstrap import ensure_apiserver_pki, write_admin_kubeconfig
from pyk8s.storage.errors import StorageError
from pyk8s.storage.factory import open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class APIServerConfig:
    data_dir: str
    secure_port: int = 6443
    bind_address: str = "0.0.0.0"
    advertise_address: str = ""
    datastore_endpoint: str | None = None
    service_cluster_ip_range: str = "10.96.0.0/12"
    service_node_port_range: tuple[int, int] = (30000, 32767)
    token_auth_file: str | None = None
    compaction_interval: float = DEFAULT_COMPACTION_INTERVAL
    extra_sans: tuple[str, ...] = field(default_factory=tuple)
    # Dial kubelets from inside this network namespace (a /run/netns path), e.g. the test topology's switch.
    kubelet_netns: str | None = None


def server_ssl_context(cert: str, key: str, ca: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def _advertise(cfg: APIServerConfig) -> str:
    if cfg.advertise_address:
        return cfg.advertise_address
    if cfg.bind_address not in ("0.0.0.0", "::", ""):
        return cfg.bind_address
    return "127.0.0.1"


async def run_apiserver(cfg: APIServerConfig, started: asyncio.Event | None = None) -> None:
    """Serve until cancelled."""
    data = Path(cfg.data_dir)
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    data.chmod(0o700)  # the store holds Secrets in plain text: only the owner may read the data dir
    advertise = _advertise(cfg)
    # Bad flags end the process with one line, before anything is opened.
    try:
        network = ipaddress.ip_network(cfg.service_cluster_ip_range)
    except ValueError as e:
        raise SystemExit(f"error: invalid --service-cluster-ip-range: {e}") from None
    if network.num_addresses < 8:
        raise SystemExit(f"error: --service-cluster-ip-range {network} is too small (want at least 8 addresses)")
    first_ip = str(network.network_address + 1)
    try:
        tokens = load_token_file(cfg.token_auth_file) if cfg.token_auth_file else None
    except (OSError, ValueError) as e:
        raise SystemExit(f"error: --token-auth-file: {e}") from None
    try:
        store = open_store(cfg.datastore_endpoint, str(data))
    except (ValueError, NotImplementedError) as e:
        raise SystemExit(f"error: --datastore-endpoint: {e}") from None
    pki = ensure_apiserver_pki(str(data), cfg.bind_address, extra_sans=[*cfg.extra_sans, advertise],
                               service_ip=first_ip)
    try:
        await store.start()
    except StorageError as e:
        raise SystemExit(f"error: cannot open the store: {e}") from None
    kubelets = KubeletClient(str(pki.kubelet_client_cert), str(pki.kubelet_client_key), netns=cfg.kubelet_netns)
    server = APIServer(store, tokens=tokens, service_cidr=cfg.service_cluster_ip_range,
                       node_port_range=cfg.service_node_port_range, advertise_address=advertise,
                       secure_port=cfg.secure_port, kubelet_client=kubelets,
                       token_signer=TokenSigner(pki.sa_key.read_bytes()))
    app = server.make_app()
    # Open watches would otherwise hold a SIGTERM for their whole 30-60 min lifetime.
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    ssl_ctx = server_ssl_context(str(pki.apiserver_cert), str(pki.apiserver_key), str(pki.ca_cert))
    sock = socket.socket(socket.AF_INET6 if ":" in cfg.bind_address else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((cfg.bind_address, cfg.secure_port))
    except OSError as e:
        sock.close()
        await runner.cleanup()
        await store.close()
        raise SystemExit(f"error: cannot listen on {cfg.bind_address}:{cfg.secure_port}: {e.strerror}") from None
    sock.listen(1024)
    port = sock.getsockname()[1]
    server.secure_port = port if cfg.secure_port == 0 else cfg.secure_port
    site = web.SockSite(runner, sock, ssl_context=ssl_ctx)
    await site.start()
    host = "127.0.0.1" if cfg.bind_address in ("0.0.0.0", "::", "") else cfg.bind_address
    write_admin_kubeconfig(str(data), f"https://{host}:{port}")
    try:
        await bootstrap(server)
        tune_gc()
        server.ready = True
        print(f"pyk8s apiserver listening on https://{host}:{port} (kubeconfig {data / 'admin.kubeconfig'})",
              file=sys.stderr, flush=True)
        if started is not None:
            started.set()
        await compact_periodically(store, cfg.compaction_interval)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await kubelets.close()
        await store.close()
