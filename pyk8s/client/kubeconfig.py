"""Where a component's client connects and who it says it is: a kubeconfig context or the in-cluster service account.

`load_client_config` turns one kubeconfig context (parsed by pyk8s.pki.kubeconfig) into a `ClientConfig`: the
server URL, a ready `ssl.SSLContext` (cluster CA, client certificate), a bearer token, the default namespace.
`in_cluster_config` does the same from the files a pod's service account mounts and the KUBERNETES_SERVICE_*
variables, as client-go's rest.InClusterConfig does.

Every failure is a `ClientConfigError` (a ValueError) with a one-line message, fit to print as a command's reason.
"""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyk8s.pki.kubeconfig import KubeconfigError, KubeconfigInfo, load_kubeconfig

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_USER_AGENT = "pyk8s"
RECOMMENDED_KUBECONFIG = "~/.kube/config"


class ClientConfigError(KubeconfigError):
    """No usable client configuration: missing or malformed kubeconfig, unreadable certificates, no in-cluster env."""


@dataclass(slots=True)
class ClientConfig:
    """Everything a RESTClient needs to reach one apiserver.

    `ssl_context` is None only for a plain-http server. `token_file`, when set, is re-read periodically
    (bound service-account tokens rotate) and wins over `token`. `qps`/`burst`: client-side rate limit,
    None for none. `timeout`: seconds for one non-watch request.
    """

    server: str
    ssl_context: ssl.SSLContext | None = None
    token: str | None = None
    token_file: str | None = None
    namespace: str = "default"
    user_agent: str = DEFAULT_USER_AGENT
    tls_server_name: str | None = None
    qps: float | None = None
    burst: int | None = None
    timeout: float = 60.0
    max_connections: int = 100
    # Makes the TCP sockets (aiohttp's socket_factory signature); a node kubelet living in its own network
    # namespace passes one that opens them in the namespace it was started in. None: ordinary sockets.
    socket_factory: Callable[[tuple[Any, ...]], socket.socket] | None = None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def make_ssl_context(ca_pem: bytes | None, client_cert_pem: bytes | None = None,
                     client_key_pem: bytes | None = None, *, insecure: bool = False) -> ssl.SSLContext:
    """A TLS client context trusting `ca_pem` (or the system store) and presenting the client certificate.

    ssl only loads certificate chains from files, so the PEMs go to a private (0600) temporary file that is
    removed as soon as they are loaded.
    """
    try:
        ctx = ssl.create_default_context(cadata=ca_pem.decode("ascii") if ca_pem else None)
    except (ssl.SSLError, ValueError, UnicodeDecodeError) as e:
        raise ClientConfigError(_one_line(f"unable to load the certificate authority: {e}")) from e
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if client_cert_pem is not None or client_key_pem is not None:
        if client_cert_pem is None or client_key_pem is None:
            raise ClientConfigError("client-certificate and client-key must be given together")
        fd, path = tempfile.mkstemp(prefix="pyk8s-client-", suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(client_cert_pem.rstrip(b"\n") + b"\n" + client_key_pem)
            ctx.load_cert_chain(path)
        except (ssl.SSLError, OSError, ValueError) as e:
            raise ClientConfigError(_one_line(f"unable to load the client certificate and key: {e}")) from e
        finally:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    return ctx


def config_from_info(info: KubeconfigInfo, *, user_agent: str = DEFAULT_USER_AGENT) -> ClientConfig:
    """The ClientConfig of one parsed kubeconfig context."""
    server = info.server.rstrip("/")
    ctx = None
    if server.startswith("https://"):
        ctx = make_ssl_context(info.ca_pem, info.client_cert_pem, info.client_key_pem,
                               insecure=info.insecure_skip_tls_verify)
    elif not server.startswith("http://"):
        raise ClientConfigError(f'server "{info.server}" is not an http(s) URL')
    return ClientConfig(server=server, ssl_context=ctx, token=info.token, namespace=info.namespace or "default",
                        user_agent=user_agent, tls_server_name=info.tls_server_name)


def default_kubeconfig_path(environ: dict[str, str] | None = None) -> str | None:
    """$KUBECONFIG (the first existing file of the list) or ~/.kube/config; None when neither exists."""
    env = os.environ if environ is None else environ
    listed = env.get("KUBECONFIG", "")
    if listed:
        for p in listed.split(os.pathsep):
            if p and Path(p).expanduser().exists():
                return str(Path(p).expanduser())
        return None
    home = Path(os.path.expanduser(RECOMMENDED_KUBECONFIG))
    return str(home) if home.exists() else None


def load_client_config(path: str | os.PathLike[str] | None = None, context: str | None = None, *,
                       user_agent: str = DEFAULT_USER_AGENT) -> ClientConfig:
    """The ClientConfig of `context` (default: current) in the kubeconfig at `path`.

    With no path: $KUBECONFIG, else ~/.kube/config, else (inside a pod) the in-cluster configuration.
    """
    if path is None:
        found = default_kubeconfig_path()
        if found is None:
            if os.environ.get("KUBERNETES_SERVICE_HOST"):
                return in_cluster_config(user_agent=user_agent)
            raise ClientConfigError("no kubeconfig: set --kubeconfig or $KUBECONFIG, or create ~/.kube/config")
        path = found
    try:
        info = load_kubeconfig(path, context)
    except KubeconfigError as e:
        raise ClientConfigError(_one_line(str(e))) from e
    return config_from_info(info, user_agent=user_agent)


def in_cluster_config(*, root: str | os.PathLike[str] = SERVICE_ACCOUNT_DIR, environ: dict[str, str] | None = None,
                      user_agent: str = DEFAULT_USER_AGENT) -> ClientConfig:
    """The configuration of a process running in a pod: its service account's token, CA and namespace."""
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ClientConfigError("unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
                                "KUBERNETES_SERVICE_PORT must be defined")
    base = Path(root)
    token_path = base / "token"
    try:
        token = token_path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ClientConfigError(_one_line(f"unable to read the service account token {token_path}: {e}")) from e
    try:
        ca = (base / "ca.crt").read_bytes()
    except OSError as e:
        raise ClientConfigError(_one_line(f"unable to read the service account CA {base / 'ca.crt'}: {e}")) from e
    try:
        namespace = (base / "namespace").read_text(encoding="utf-8").strip() or "default"
    except OSError:
        namespace = "default"
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return ClientConfig(server=f"https://{hostport}", ssl_context=make_ssl_context(ca), token=token,
                        token_file=str(token_path), namespace=namespace, user_agent=user_agent)
