"""The control plane's certificates and kubeconfigs under a data directory, created once and reused.

Layout (kubeadm's names, under ``D = --data-dir``)::

    D/pki/ca.crt, ca.key                 cluster CA
    D/pki/apiserver.crt, apiserver.key   apiserver serving certificate
    D/pki/admin.crt, admin.key           CN=kubernetes-admin, O=system:masters
    D/pki/sa.key, sa.pub                 service-account token signing key pair
    D/pki/apiserver-kubelet-client.*     CN=kube-apiserver-kubelet-client, O=system:masters (apiserver -> kubelet)
    D/pki/<name>.crt, <name>.key         one client identity per component
    D/admin.kubeconfig, D/<name>.kubeconfig

Every ``ensure_*`` call is idempotent: existing material is kept as long as it still fits (signed by the
current CA, same identity, all requested SANs, not about to expire), so restarting a component never
invalidates the credentials other components hold. The CA itself is never replaced once it exists.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import os
import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyk8s.pki.certs import (
    CERT_MODE,
    KEY_MODE,
    CertKeyPair,
    PKIError,
    is_signed_by,
    load_pair,
    new_ca,
    new_client_cert,
    new_sa_signing_key,
    new_serving_cert,
    public_key_pem,
    sans_of,
    split_sans,
    subject_of,
    write_file,
    write_pair,
)
from pyk8s.pki.kubeconfig import KubeconfigError, load_kubeconfig, write_kubeconfig

CLUSTER_NAME = "kubernetes"
ADMIN_USER = "kubernetes-admin"
ADMIN_GROUPS = ("system:masters",)
APISERVER_CN = "kube-apiserver"
# The identity the apiserver presents to kubelets (kubeadm's apiserver-kubelet-client certificate).
KUBELET_CLIENT_CN = "kube-apiserver-kubelet-client"
KUBELET_CLIENT_GROUPS = ("system:masters",)
DEFAULT_SERVER_URL = "https://127.0.0.1:6443"
# Reissue a leaf certificate that has less than this left.
RENEW_BEFORE = datetime.timedelta(days=1)
_UNSPECIFIED_ADDRESSES = frozenset({"0.0.0.0", "::", ""})


@dataclass(frozen=True, slots=True)
class ApiserverPKI:
    """Paths of the control plane's key material."""

    pki_dir: Path
    ca_cert: Path
    ca_key: Path
    apiserver_cert: Path
    apiserver_key: Path
    admin_cert: Path
    admin_key: Path
    sa_key: Path
    sa_pub: Path
    kubelet_client_cert: Path
    kubelet_client_key: Path


def _paths(data_dir: str | os.PathLike[str]) -> ApiserverPKI:
    pki = Path(data_dir) / "pki"
    return ApiserverPKI(
        pki_dir=pki,
        ca_cert=pki / "ca.crt", ca_key=pki / "ca.key",
        apiserver_cert=pki / "apiserver.crt", apiserver_key=pki / "apiserver.key",
        admin_cert=pki / "admin.crt", admin_key=pki / "admin.key",
        sa_key=pki / "sa.key", sa_pub=pki / "sa.pub",
        kubelet_client_cert=pki / "apiserver-kubelet-client.crt",
        kubelet_client_key=pki / "apiserver-kubelet-client.key",
    )


def apiserver_sans(bind_address: str, extra_sans: Iterable[str] = (), service_ip: str = "10.96.0.1"
                   ) -> tuple[list[str], list[str]]:
    """(DNS names, IPs) the apiserver certificate must carry."""
    dns = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
           "kubernetes.default.svc.cluster.local"]
    ips = ["127.0.0.1", service_ip]
    if bind_address not in _UNSPECIFIED_ADDRESSES:
        extra_dns, extra_ips = split_sans([bind_address])
        dns += extra_dns
        ips += extra_ips
    hostname = socket.gethostname().strip().lower()
    if hostname and hostname.isascii():
        dns.append(hostname)
    more_dns, more_ips = split_sans(extra_sans)
    return list(dict.fromkeys(dns + more_dns)), list(dict.fromkeys(ips + more_ips))


@contextlib.contextmanager
def _locked(pki_dir: Path) -> Iterator[None]:
    """Serialise ensure_* calls from several processes sharing one data directory."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    with open(pki_dir / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _ensure_ca(paths: ApiserverPKI) -> CertKeyPair:
    have_cert, have_key = paths.ca_cert.exists(), paths.ca_key.exists()
    if have_cert and have_key:
        return load_pair(paths.ca_cert, paths.ca_key)
    if have_cert or have_key:
        # Replacing half a CA would silently invalidate every credential issued so far.
        raise PKIError(f"incomplete CA in {paths.pki_dir}: need both ca.crt and ca.key")
    ca = new_ca()
    write_pair(paths.pki_dir, "ca", ca)
    return ca


def _usable(cert_path: Path, key_path: Path, ca: CertKeyPair) -> CertKeyPair | None:
    """The existing pair if it is readable, signed by ``ca`` and not about to expire."""
    if not (cert_path.exists() and key_path.exists()):
        return None
    try:
        pair = load_pair(cert_path, key_path)
    except PKIError:
        return None
    cert = pair.certificate()
    if not is_signed_by(cert, ca.certificate()):
        return None
    if cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC) < RENEW_BEFORE:
        return None
    return pair


def _ensure_client(pki_dir: Path, name: str, ca: CertKeyPair, common_name: str,
                   organizations: Sequence[str]) -> CertKeyPair:
    existing = _usable(pki_dir / f"{name}.crt", pki_dir / f"{name}.key", ca)
    if existing is not None and subject_of(existing.cert_pem) == (common_name, list(organizations)):
        return existing
    pair = new_client_cert(ca, common_name, organizations)
    write_pair(pki_dir, name, pair)
    return pair


def ensure_apiserver_pki(data_dir: str | os.PathLike[str], bind_address: str, extra_sans: Iterable[str] = (),
                         service_ip: str = "10.96.0.1") -> ApiserverPKI:
    """Create whatever of the control plane's key material is missing or no longer fits; return the paths.

    The apiserver certificate carries 127.0.0.1, localhost, the kubernetes.default names, the service IP,
    the machine's hostname, the bind address (unless unspecified) and ``extra_sans``; an existing one
    lacking any of these is reissued from the same CA.
    """
    paths = _paths(data_dir)
    with _locked(paths.pki_dir):
        _ensure_apiserver_pki(paths, bind_address, extra_sans, service_ip)
    return paths


def _ensure_apiserver_pki(paths: ApiserverPKI, bind_address: str, extra_sans: Iterable[str], service_ip: str) -> None:
    ca = _ensure_ca(paths)
    dns, ips = apiserver_sans(bind_address, extra_sans, service_ip)
    serving = _usable(paths.apiserver_cert, paths.apiserver_key, ca)
    if serving is not None:
        have_dns, have_ips = sans_of(serving.cert_pem)
        if not (set(dns) <= set(have_dns) and set(ips) <= set(have_ips)):
            serving = None
    if serving is None:
        write_pair(paths.pki_dir, "apiserver", new_serving_cert(ca, APISERVER_CN, dns, ips))

    _ensure_client(paths.pki_dir, "admin", ca, ADMIN_USER, ADMIN_GROUPS)
    _ensure_client(paths.pki_dir, "apiserver-kubelet-client", ca, KUBELET_CLIENT_CN, KUBELET_CLIENT_GROUPS)

    if not paths.sa_key.exists():
        write_file(paths.sa_key, new_sa_signing_key(), KEY_MODE)
    public = public_key_pem(paths.sa_key.read_bytes())
    if not paths.sa_pub.exists() or paths.sa_pub.read_bytes() != public:
        write_file(paths.sa_pub, public, CERT_MODE)


def write_admin_kubeconfig(data_dir: str | os.PathLike[str], server_url: str) -> Path:
    """Write ``D/admin.kubeconfig`` (cluster "kubernetes", user "kubernetes-admin") for ``server_url``.

    Needs ``ensure_apiserver_pki`` to have run. Rewritten on every call, atomically, so a changed
    server URL takes effect.
    """
    paths = _paths(data_dir)
    ca = load_pair(paths.ca_cert, paths.ca_key)
    admin = load_pair(paths.admin_cert, paths.admin_key)
    return write_kubeconfig(Path(data_dir) / "admin.kubeconfig", server_url, ca.cert_pem, CLUSTER_NAME, ADMIN_USER,
                            client_cert_pem=admin.cert_pem, client_key_pem=admin.key_pem)


def _default_server_url(data_dir: Path) -> str:
    try:
        return load_kubeconfig(data_dir / "admin.kubeconfig").server
    except KubeconfigError:
        return DEFAULT_SERVER_URL


def ensure_component_identity(data_dir: str | os.PathLike[str], name: str, common_name: str,
                              organizations: Sequence[str] = (), server_url: str | None = None) -> Path:
    """Give a component its own client certificate and ``D/<name>.kubeconfig``; return the kubeconfig path.

    For example ``("kube-controller-manager", "system:kube-controller-manager", [])``. The certificate
    (``D/pki/<name>.crt``) is kept while it still matches; ``server_url`` defaults to the admin
    kubeconfig's server, else ``https://127.0.0.1:6443``. Needs the CA from ``ensure_apiserver_pki``.
    """
    if not name or "/" in name or name in (".", ".."):
        raise PKIError(f"invalid component name {name!r}")
    base = Path(data_dir)
    paths = _paths(base)
    with _locked(paths.pki_dir):
        ca = load_pair(paths.ca_cert, paths.ca_key)
        pair = _ensure_client(paths.pki_dir, name, ca, common_name, organizations)
    server = server_url or _default_server_url(base)
    return write_kubeconfig(base / f"{name}.kubeconfig", server, ca.cert_pem, CLUSTER_NAME, common_name,
                            client_cert_pem=pair.cert_pem, client_key_pem=pair.key_pem)
