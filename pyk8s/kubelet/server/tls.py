"""The kubelet's serving certificate and client-certificate authentication for its HTTPS server.

Serving certificate: like upstream's default (no --tls-cert-file) a self-signed pair is generated once into the
cert dir as kubelet.crt/kubelet.key (here a throw-away CA "<node>-ca@<unix time>" signs "<node>@<unix time>"
for the node's names and IPs), or the caller passes a CA to sign it.

Authentication (upstream --client-ca-file with anonymous auth disabled): the TLS context asks for a client
certificate (CERT_OPTIONAL) and verifies it against the cluster client CA. A request without a verified
certificate gets 401; the identity (CN = user, O = groups, as pyk8s.pki.subject_of reads it) must then pass the
authorizer or the request gets 403. The default authorizer admits the apiserver's kubelet-client identity
(group system:masters, or CN kube-apiserver-kubelet-client) and nothing else: upstream's kubelet asks the
apiserver with a SubjectAccessReview (nodes/proxy etc.), which this server does not do.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from aiohttp import web

from pyk8s.pki.certs import CertKeyPair, load_pair, new_ca, new_serving_cert, subject_of, write_pair

APISERVER_KUBELET_CLIENT_CN = "kube-apiserver-kubelet-client"
SYSTEM_MASTERS = "system:masters"

# (user name, groups) -> allowed
Authorizer = Callable[[str, list[str]], bool]


def default_authorizer(user: str, groups: list[str]) -> bool:
    return SYSTEM_MASTERS in groups or user == APISERVER_KUBELET_CLIENT_CN


def self_signed_serving_pair(node_name: str, dns_names: Sequence[str] = (), ips: Sequence[str] = (),
                             ca: CertKeyPair | None = None) -> CertKeyPair:
    """A serving certificate for the node's names and IPs, signed by `ca` or by a fresh throw-away CA."""
    now = int(time.time())
    signer = ca or new_ca(f"{node_name}-ca@{now}")
    names = list(dict.fromkeys([node_name, *dns_names]))
    pair = new_serving_cert(signer, f"{node_name}@{now}", names, list(ips))
    if ca is None:
        # Serve the chain so a client that pins the file can verify it.
        return CertKeyPair(pair.cert_pem + signer.cert_pem, pair.key_pem)
    return pair


def ensure_serving_cert(cert_dir: str | os.PathLike[str], node_name: str, dns_names: Sequence[str] = (),
                        ips: Sequence[str] = (), ca: CertKeyPair | None = None) -> tuple[Path, Path]:
    """cert_dir/kubelet.crt and kubelet.key, created once and kept across restarts (upstream's behaviour)."""
    d = Path(cert_dir)
    crt, key = d / "kubelet.crt", d / "kubelet.key"
    if crt.exists() and key.exists():
        try:
            load_pair(crt, key)
            return crt, key
        except ValueError:
            pass
    d.mkdir(parents=True, exist_ok=True)
    return write_pair(d, "kubelet", self_signed_serving_pair(node_name, dns_names, ips, ca))


def server_ssl_context(cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str],
                       client_ca_file: str | os.PathLike[str] | None) -> ssl.SSLContext:
    """TLS 1.2+ server context; with a client CA, client certificates are requested and verified (optional)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    if client_ca_file is not None:
        ctx.load_verify_locations(cafile=str(client_ca_file))
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def client_identity(request: web.BaseRequest) -> tuple[str, list[str]] | None:
    """(user, groups) from the verified client certificate; None without one (or over plain HTTP)."""
    transport = request.transport
    if transport is None:
        return None
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    return subject_of(der)
