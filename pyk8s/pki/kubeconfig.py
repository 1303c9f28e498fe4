"""Kubeconfig files: write the ones the real kubectl reads, and read them back for our own clients.

Written files embed everything (``certificate-authority-data``, ``client-certificate-data``,
``client-key-data`` as base64) and are mode 0600 because they hold credentials. Reading accepts both the
embedded ``*-data`` form and the file-path form (paths relative to the kubeconfig's own directory, as
client-go resolves them), plus ``token`` / ``tokenFile`` and ``insecure-skip-tls-verify``.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pyk8s.pki.certs import KEY_MODE, write_file


class KubeconfigError(ValueError):
    """A kubeconfig that cannot be used: unreadable, malformed, or missing the selected context."""


@dataclass(frozen=True, slots=True)
class KubeconfigInfo:
    """What a client needs from one context of a kubeconfig. ``namespace`` is None when the context sets none."""

    server: str
    ca_pem: bytes | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    token: str | None = None
    namespace: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    context_name: str = ""
    cluster_name: str = ""
    user_name: str = ""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def render_kubeconfig(server_url: str, ca_pem: bytes, cluster_name: str, user_name: str,
                      client_cert_pem: bytes | None = None, client_key_pem: bytes | None = None,
                      token: str | None = None, context_name: str | None = None,
                      namespace: str | None = None) -> str:
    """The YAML text of a single-context kubeconfig (see ``write_kubeconfig``)."""
    context = context_name or f"{user_name}@{cluster_name}"
    user: dict[str, Any] = {}
    if client_cert_pem is not None:
        user["client-certificate-data"] = _b64(client_cert_pem)
    if client_key_pem is not None:
        user["client-key-data"] = _b64(client_key_pem)
    if token is not None:
        user["token"] = token
    ctx: dict[str, Any] = {"cluster": cluster_name, "user": user_name}
    if namespace:
        ctx["namespace"] = namespace
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"certificate-authority-data": _b64(ca_pem),
                                                        "server": server_url}}],
        "contexts": [{"name": context, "context": ctx}],
        "current-context": context,
        "preferences": {},
        "users": [{"name": user_name, "user": user}],
    }
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def write_kubeconfig(path: str | os.PathLike[str], server_url: str, ca_pem: bytes, cluster_name: str, user_name: str,
                     client_cert_pem: bytes | None = None, client_key_pem: bytes | None = None,
                     token: str | None = None, context_name: str | None = None,
                     namespace: str | None = None) -> Path:
    """Atomically write a kubeconfig with one cluster, one user and one current context (mode 0600).

    The context is named ``context_name`` or ``<user>@<cluster>``, as kubeadm names its contexts.
    """
    text = render_kubeconfig(server_url, ca_pem, cluster_name, user_name, client_cert_pem, client_key_pem,
                             token, context_name, namespace)
    return write_file(path, text.encode("utf-8"), KEY_MODE)


def _named(entries: Any, name: str, what: str, field: str) -> dict[str, Any]:
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(field)
            return body if isinstance(body, dict) else {}
    raise KubeconfigError(f'{what} "{name}" does not exist')


def _decode_data(value: Any, key: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=False)
    except (binascii.Error, ValueError) as e:
        raise KubeconfigError(f"invalid base64 in {key}: {e}") from e


def _read_file(base: Path, value: Any, key: str) -> bytes:
    path = Path(os.path.expanduser(str(value)))
    if not path.is_absolute():
        path = base / path
    try:
        return path.read_bytes()
    except OSError as e:
        raise KubeconfigError(f"unable to read {key} {path}: {e}") from e


def _material(section: dict[str, Any], base: Path, name: str) -> bytes | None:
    """``<name>-data`` (base64) wins over ``<name>`` (a path), as in client-go."""
    if section.get(f"{name}-data"):
        return _decode_data(section[f"{name}-data"], f"{name}-data")
    if section.get(name):
        return _read_file(base, section[name], name)
    return None


def load_kubeconfig(path: str | os.PathLike[str], context: str | None = None) -> KubeconfigInfo:
    """The server, credentials and namespace of ``context`` (default: the current context).

    A file with no current context but exactly one context uses that one. Raises KubeconfigError.
    """
    file = Path(path)
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as e:
        raise KubeconfigError(f"unable to read kubeconfig {file}: {e}") from e
    except yaml.YAMLError as e:
        raise KubeconfigError(f"unable to parse kubeconfig {file}: {e}") from e
    if not isinstance(doc, dict):
        raise KubeconfigError(f"kubeconfig {file} is not a Config document")
    base = file.resolve().parent

    name = context or doc.get("current-context") or ""
    if not name:
        contexts = [c for c in doc.get("contexts") or [] if isinstance(c, dict)]
        if len(contexts) != 1:
            raise KubeconfigError(f"kubeconfig {file} has no current context")
        name = str(contexts[0].get("name", ""))
    ctx = _named(doc.get("contexts"), name, "context", "context")
    cluster_name = str(ctx.get("cluster") or "")
    user_name = str(ctx.get("user") or "")
    cluster = _named(doc.get("clusters"), cluster_name, "cluster", "cluster")
    user = _named(doc.get("users"), user_name, "user", "user") if user_name else {}

    server = str(cluster.get("server") or "")
    if not server:
        raise KubeconfigError(f'cluster "{cluster_name}" has no server')
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = _read_file(base, user["tokenFile"], "tokenFile").decode("utf-8").strip()
    namespace = ctx.get("namespace")
    return KubeconfigInfo(
        server=server,
        ca_pem=_material(cluster, base, "certificate-authority"),
        client_cert_pem=_material(user, base, "client-certificate"),
        client_key_pem=_material(user, base, "client-key"),
        token=str(token) if token else None,
        namespace=str(namespace) if namespace else None,
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify", False)),
        tls_server_name=str(cluster["tls-server-name"]) if cluster.get("tls-server-name") else None,
        context_name=name,
        cluster_name=cluster_name,
        user_name=user_name,
    )
