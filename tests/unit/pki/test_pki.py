"""Cluster PKI: certificate profiles, the data-dir layout, kubeconfigs, and real TLS with the results."""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import ipaddress
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store

from pyk8s.pki.bootstrap import (
    ApiserverPKI,
    apiserver_sans,
    ensure_apiserver_pki,
    ensure_component_identity,
    write_admin_kubeconfig,
)
from pyk8s.pki.certs import (
    CertKeyPair,
    PKIError,
    ca_cert_hash,
    is_signed_by,
    load_pair,
    new_ca,
    new_client_cert,
    new_csr,
    new_private_key_pem,
    new_serving_cert,
    sans_of,
    sign_csr,
    subject_of,
    write_pair,
)
from pyk8s.pki.kubeconfig import KubeconfigError, load_kubeconfig, write_kubeconfig

OPENSSL = shutil.which("openssl")
KUBECTL = shutil.which("kubectl")


@pytest.fixture(scope="module")
def ca() -> CertKeyPair:
    return new_ca()


@pytest.fixture
def pki(tmp_path: Path) -> ApiserverPKI:
    return ensure_apiserver_pki(tmp_path, "192.0.2.10", extra_sans=("api.example.test", "198.51.100.7"))


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---- certificate profiles ----

def test_ca_profile(ca: CertKeyPair) -> None:
    cert = ca.certificate()
    assert subject_of(cert) == ("kubernetes", [])
    assert cert.issuer == cert.subject
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign and ku.value.digital_signature
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert is_signed_by(cert, cert)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=3649) < lifetime < datetime.timedelta(days=3651)


def test_serving_and_client_profiles(ca: CertKeyPair) -> None:
    serving = new_serving_cert(ca, "kube-apiserver", ["localhost", "kubernetes"], ["127.0.0.1", "::1"]).certificate()
    eku = serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert sans_of(serving) == (["localhost", "kubernetes"], ["127.0.0.1", "::1"])
    aki = serving.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.certificate().extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert not serving.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # a leaf never outlives its CA
    assert serving.not_valid_after_utc <= ca.certificate().not_valid_after_utc

    client = new_client_cert(ca, "jane", ["dev", "ops"]).certificate()
    assert subject_of(client) == ("jane", ["dev", "ops"])
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]
    assert is_signed_by(client, ca.cert_pem)
    assert not is_signed_by(client, new_ca().cert_pem)


def test_subject_of_accepts_pem_der_and_text(ca: CertKeyPair) -> None:
    pair = new_client_cert(ca, "system:node:n1", ["system:nodes"])
    der = pair.certificate().public_bytes(serialization.Encoding.DER)
    expected = ("system:node:n1", ["system:nodes"])
    assert subject_of(pair.cert_pem) == subject_of(der) == subject_of(pair.cert_pem.decode()) == expected
    with pytest.raises(PKIError):
        subject_of(b"not a certificate")


def test_sign_csr(ca: CertKeyPair) -> None:
    key_pem = new_private_key_pem()
    csr = new_csr(key_pem, "system:node:n1", ["system:nodes"], dns_names=["n1"], ips=["10.0.0.4"])
    cert = x509.load_pem_x509_certificate(
        sign_csr(ca, csr, ["digital signature", "key encipherment", "server auth", "client auth"], days=30))
    assert subject_of(cert) == ("system:node:n1", ["system:nodes"])
    assert sans_of(cert) == (["n1"], ["10.0.0.4"])
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_encipherment and not ku.key_cert_sign
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert is_signed_by(cert, ca.cert_pem)
    # the certificate is for the requester's key
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert cert.public_key() == key.public_key()
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime <= datetime.timedelta(days=30, minutes=5)

    der_csr = x509.load_pem_x509_csr(csr).public_bytes(serialization.Encoding.DER)
    assert subject_of(sign_csr(ca, der_csr, ["client auth"])) == ("system:node:n1", ["system:nodes"])
    with pytest.raises(PKIError, match="unknown key usage: teleport"):
        sign_csr(ca, csr, ["teleport"])
    with pytest.raises(PKIError, match="unable to parse certificate request"):
        sign_csr(ca, b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", [])


def test_ca_cert_hash_matches_spki_digest(ca: CertKeyPair) -> None:
    spki = ca.certificate().public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert ca_cert_hash(ca.cert_pem) == "sha256:" + hashlib.sha256(spki).hexdigest()
    if OPENSSL:
        # kubeadm's documented recipe: openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256
        pub = subprocess.run([OPENSSL, "x509", "-pubkey", "-noout"], input=ca.cert_pem, capture_output=True,
                             check=True, timeout=30).stdout
        der = subprocess.run([OPENSSL, "pkey", "-pubin", "-outform", "der"], input=pub, capture_output=True,
                             check=True, timeout=30).stdout
        assert ca_cert_hash(ca.cert_pem) == "sha256:" + hashlib.sha256(der).hexdigest()


def test_write_and_load_pair(tmp_path: Path, ca: CertKeyPair) -> None:
    cert_path, key_path = write_pair(tmp_path / "sub", "thing", ca)
    assert (cert_path.name, key_path.name) == ("thing.crt", "thing.key")
    assert _mode(key_path) == 0o600
    assert _mode(cert_path) == 0o644
    assert load_pair(cert_path, key_path) == ca
    with pytest.raises(PKIError):
        load_pair(tmp_path / "missing.crt", key_path)
    assert not [p for p in (tmp_path / "sub").iterdir() if p.name.endswith(".tmp")]


# ---- the data-dir layout ----

def test_layout_and_modes(tmp_path: Path, pki: ApiserverPKI) -> None:
    assert pki.pki_dir == tmp_path / "pki"
    for path in (pki.ca_key, pki.apiserver_key, pki.admin_key, pki.sa_key):
        assert _mode(path) == 0o600, path
    for path in (pki.ca_cert, pki.apiserver_cert, pki.admin_cert, pki.sa_pub):
        assert _mode(path) == 0o644, path


def test_chain_verifies_with_cryptography(pki: ApiserverPKI) -> None:
    ca_cert = _cert(pki.ca_cert)
    store = Store([ca_cert])
    now = datetime.datetime.now(datetime.UTC)
    for name in ("kubernetes.default.svc", "localhost"):
        verifier = PolicyBuilder().store(store).time(now).build_server_verifier(x509.DNSName(name))
        chain = verifier.verify(_cert(pki.apiserver_cert), [])
        assert chain[-1] == ca_cert
    PolicyBuilder().store(store).time(now).build_server_verifier(
        x509.IPAddress(ipaddress.ip_address("10.96.0.1"))).verify(_cert(pki.apiserver_cert), [])
    # cryptography's client verifier demands a SAN, which Kubernetes client certificates never carry;
    # the openssl test below checks the client chain with purpose sslclient.
    assert is_signed_by(_cert(pki.admin_cert), ca_cert)


@pytest.mark.skipif(OPENSSL is None, reason="the openssl binary is not installed; cryptography's check still runs")
def test_chain_verifies_with_openssl(pki: ApiserverPKI) -> None:
    assert OPENSSL is not None
    for leaf, purpose in ((pki.apiserver_cert, "sslserver"), (pki.admin_cert, "sslclient")):
        out = subprocess.run([OPENSSL, "verify", "-purpose", purpose, "-CAfile", str(pki.ca_cert), str(leaf)],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.strip().endswith(": OK")


def test_apiserver_sans(pki: ApiserverPKI) -> None:
    dns, ips = sans_of(pki.apiserver_cert.read_bytes())
    for name in ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local", "api.example.test", socket.gethostname().lower()):
        assert name in dns
    for ip in ("127.0.0.1", "10.96.0.1", "192.0.2.10", "198.51.100.7"):
        assert ip in ips


def test_unspecified_bind_address_is_not_a_san() -> None:
    _, ips = apiserver_sans("0.0.0.0", service_ip="10.43.0.1")
    assert "0.0.0.0" not in ips
    assert ips[:2] == ["127.0.0.1", "10.43.0.1"]
    _, ips = apiserver_sans("::")
    assert "::" not in ips


def test_admin_identity_and_service_account_keys(pki: ApiserverPKI) -> None:
    assert subject_of(pki.admin_cert.read_bytes()) == ("kubernetes-admin", ["system:masters"])
    sa_key = serialization.load_pem_private_key(pki.sa_key.read_bytes(), password=None)
    assert isinstance(sa_key, rsa.RSAPrivateKey)
    assert sa_key.key_size == 2048
    assert serialization.load_pem_public_key(pki.sa_pub.read_bytes()) == sa_key.public_key()


def _snapshot(pki_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(pki_dir.iterdir())}


def test_second_call_changes_nothing(tmp_path: Path, pki: ApiserverPKI) -> None:
    before = _snapshot(pki.pki_dir)
    again = ensure_apiserver_pki(tmp_path, "192.0.2.10", extra_sans=("api.example.test", "198.51.100.7"))
    assert again == pki
    assert _snapshot(pki.pki_dir) == before


def test_new_san_reissues_only_the_serving_cert(tmp_path: Path, pki: ApiserverPKI) -> None:
    before = _snapshot(pki.pki_dir)
    ensure_apiserver_pki(tmp_path, "192.0.2.10", extra_sans=("api.example.test", "198.51.100.7", "203.0.113.9"))
    after = _snapshot(pki.pki_dir)
    assert after["apiserver.crt"] != before["apiserver.crt"]
    assert "203.0.113.9" in sans_of(after["apiserver.crt"])[1]
    assert is_signed_by(after["apiserver.crt"], after["ca.crt"])
    for name in ("ca.crt", "ca.key", "admin.crt", "admin.key", "sa.key", "sa.pub"):
        assert after[name] == before[name], name


def test_damaged_material_is_repaired_but_a_half_ca_is_refused(tmp_path: Path, pki: ApiserverPKI) -> None:
    pki.admin_cert.write_bytes(b"garbage")
    pki.sa_pub.unlink()
    ensure_apiserver_pki(tmp_path, "192.0.2.10", extra_sans=("api.example.test", "198.51.100.7"))
    assert subject_of(pki.admin_cert.read_bytes()) == ("kubernetes-admin", ["system:masters"])
    assert pki.sa_pub.exists()
    pki.ca_key.unlink()
    with pytest.raises(PKIError, match="incomplete CA"):
        ensure_apiserver_pki(tmp_path, "192.0.2.10")


# ---- kubeconfig files ----

def test_kubeconfig_round_trip_embedded(tmp_path: Path, ca: CertKeyPair) -> None:
    client = new_client_cert(ca, "jane", ["dev"])
    path = write_kubeconfig(tmp_path / "k.yaml", "https://10.0.0.1:6443", ca.cert_pem, "prod", "jane",
                            client_cert_pem=client.cert_pem, client_key_pem=client.key_pem, namespace="team")
    assert _mode(path) == 0o600
    doc = yaml.safe_load(path.read_text())
    assert doc["kind"] == "Config" and doc["apiVersion"] == "v1"
    assert doc["current-context"] == "jane@prod"
    assert base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]) == ca.cert_pem
    assert base64.b64decode(doc["users"][0]["user"]["client-key-data"]) == client.key_pem
    info = load_kubeconfig(path)
    assert info.server == "https://10.0.0.1:6443"
    assert info.ca_pem == ca.cert_pem
    assert (info.client_cert_pem, info.client_key_pem) == (client.cert_pem, client.key_pem)
    assert info.namespace == "team"
    assert info.token is None and not info.insecure_skip_tls_verify
    assert (info.context_name, info.cluster_name, info.user_name) == ("jane@prod", "prod", "jane")


def test_kubeconfig_token_and_context_name(tmp_path: Path, ca: CertKeyPair) -> None:
    path = write_kubeconfig(tmp_path / "k", "https://h:1", ca.cert_pem, "c", "bot", token="abc.def",
                            context_name="ctx")
    info = load_kubeconfig(path, context="ctx")
    assert info.token == "abc.def"
    assert info.client_cert_pem is None and info.namespace is None
    with pytest.raises(KubeconfigError, match='context "other" does not exist'):
        load_kubeconfig(path, context="other")


def test_kubeconfig_file_paths_are_relative_to_the_file(tmp_path: Path, ca: CertKeyPair) -> None:
    client = new_client_cert(ca, "jane", [])
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.crt").write_bytes(ca.cert_pem)
    (tmp_path / "certs" / "jane.crt").write_bytes(client.cert_pem)
    (tmp_path / "certs" / "jane.key").write_bytes(client.key_pem)
    (tmp_path / "token").write_text("tok-from-file\n")
    doc = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://h:6443", "certificate-authority": "certs/ca.crt",
                                               "insecure-skip-tls-verify": True, "tls-server-name": "kubernetes"}}],
        "users": [{"name": "u", "user": {"client-certificate": "certs/jane.crt",
                                          "client-key": str(tmp_path / "certs" / "jane.key"),
                                          "tokenFile": "token"}}],
        "contexts": [{"name": "only", "context": {"cluster": "c", "user": "u", "namespace": "ns"}}],
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    info = load_kubeconfig(path)  # no current-context, but a single context
    assert info.ca_pem == ca.cert_pem
    assert info.client_cert_pem == client.cert_pem
    assert info.client_key_pem == client.key_pem
    assert info.token == "tok-from-file"
    assert info.insecure_skip_tls_verify
    assert info.tls_server_name == "kubernetes"
    assert info.namespace == "ns"


def test_kubeconfig_errors(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError):
        load_kubeconfig(tmp_path / "missing")
    (tmp_path / "bad").write_text("- just\n- a list\n")
    with pytest.raises(KubeconfigError):
        load_kubeconfig(tmp_path / "bad")


def test_admin_and_component_kubeconfigs(tmp_path: Path, pki: ApiserverPKI) -> None:
    admin_path = write_admin_kubeconfig(tmp_path, "https://127.0.0.1:6443")
    assert admin_path == tmp_path / "admin.kubeconfig"
    assert _mode(admin_path) == 0o600
    admin = load_kubeconfig(admin_path)
    assert admin.server == "https://127.0.0.1:6443"
    assert admin.client_cert_pem == pki.admin_cert.read_bytes()
    assert admin.ca_pem == pki.ca_cert.read_bytes()

    path = ensure_component_identity(tmp_path, "kube-controller-manager", "system:kube-controller-manager")
    assert path == tmp_path / "kube-controller-manager.kubeconfig"
    info = load_kubeconfig(path)
    assert info.server == "https://127.0.0.1:6443"  # taken from the admin kubeconfig
    assert info.client_cert_pem is not None
    assert subject_of(info.client_cert_pem) == ("system:kube-controller-manager", [])
    assert is_signed_by(info.client_cert_pem, pki.ca_cert.read_bytes())
    cert_before = (pki.pki_dir / "kube-controller-manager.crt").read_bytes()
    again = ensure_component_identity(tmp_path, "kube-controller-manager", "system:kube-controller-manager",
                                      server_url="https://10.0.0.2:6443")
    assert (pki.pki_dir / "kube-controller-manager.crt").read_bytes() == cert_before
    assert load_kubeconfig(again).server == "https://10.0.0.2:6443"
    node = ensure_component_identity(tmp_path, "kubelet", "system:node:n1", ["system:nodes"])
    node_cert = load_kubeconfig(node).client_cert_pem
    assert node_cert is not None and subject_of(node_cert) == ("system:node:n1", ["system:nodes"])
    with pytest.raises(PKIError):
        ensure_component_identity(tmp_path, "../evil", "x")


# ---- real TLS ----

def _server_context(pki: ApiserverPKI, verify: ssl.VerifyMode) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.apiserver_cert, pki.apiserver_key)
    ctx.load_verify_locations(cafile=str(pki.ca_cert))
    ctx.verify_mode = verify
    return ctx


def _client_context(pki: ApiserverPKI, with_cert: bool = True) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(pki.ca_cert))
    if with_cert:
        ctx.load_cert_chain(pki.admin_cert, pki.admin_key)
    return ctx


@pytest.mark.parametrize(("server_hostname", "with_cert", "expected"), [
    ("127.0.0.1", True, ("kubernetes-admin", ["system:masters"])),
    ("kubernetes.default.svc", True, ("kubernetes-admin", ["system:masters"])),
    ("localhost", False, None),  # CERT_OPTIONAL: anonymous clients still connect
])
def test_tls_handshake_presents_client_identity(pki: ApiserverPKI, server_hostname: str, with_cert: bool,
                                                expected: tuple[str, list[str]] | None) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(20)
    port = listener.getsockname()[1]
    seen: dict[str, object] = {}

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            with _server_context(pki, ssl.CERT_OPTIONAL).wrap_socket(conn, server_side=True) as tls:
                der = tls.getpeercert(binary_form=True)
                seen["identity"] = subject_of(der) if der else None
                tls.sendall(b"ok")
        except Exception as e:  # reported through `seen`
            seen["error"] = e

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as raw, \
                _client_context(pki, with_cert).wrap_socket(raw, server_hostname=server_hostname) as tls:
            assert tls.recv(2) == b"ok"
            server_cn, _ = subject_of(tls.getpeercert(binary_form=True) or b"")
            assert server_cn == "kube-apiserver"
    finally:
        thread.join(timeout=20)
        listener.close()
    assert "error" not in seen, seen.get("error")
    assert seen["identity"] == expected


def test_tls_rejects_a_foreign_client_certificate(tmp_path: Path, pki: ApiserverPKI) -> None:
    stranger = new_client_cert(new_ca(), "kubernetes-admin", ["system:masters"])
    cert_path, key_path = write_pair(tmp_path / "stranger", "c", stranger)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(20)
    port = listener.getsockname()[1]
    outcome: dict[str, object] = {}

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            with _server_context(pki, ssl.CERT_OPTIONAL).wrap_socket(conn, server_side=True):
                outcome["accepted"] = True
        except ssl.SSLError as e:
            outcome["rejected"] = e
        except OSError as e:
            outcome["rejected"] = e

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(pki.ca_cert))
    ctx.load_cert_chain(cert_path, key_path)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
            try:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                pass
    finally:
        thread.join(timeout=20)
        listener.close()
    assert "rejected" in outcome and "accepted" not in outcome


class _VersionHandler(http.server.BaseHTTPRequestHandler):
    seen_identities: list[tuple[str, list[str]] | None] = []

    def do_GET(self) -> None:
        der = self.connection.getpeercert(binary_form=True)  # type: ignore[attr-defined]
        type(self).seen_identities.append(subject_of(der) if der else None)
        body = json.dumps({"major": "1", "minor": "32", "gitVersion": "v1.32.0", "gitCommit": "x",
                           "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23",
                           "compiler": "gc", "platform": "linux/amd64"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def https_server(pki: ApiserverPKI) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _VersionHandler)
    server.socket = _server_context(pki, ssl.CERT_OPTIONAL).wrap_socket(server.socket, server_side=True)
    _VersionHandler.seen_identities = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=20)


@pytest.mark.skipif(KUBECTL is None, reason="the kubectl binary is not installed")
def test_real_kubectl_accepts_admin_kubeconfig(tmp_path: Path, pki: ApiserverPKI, https_server: int) -> None:
    assert KUBECTL is not None
    kubeconfig = write_admin_kubeconfig(tmp_path, f"https://127.0.0.1:{https_server}")
    env = dict(os.environ, HOME=str(tmp_path), KUBECONFIG=str(kubeconfig))
    out = subprocess.run([KUBECTL, "get", "--raw", "/version"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["gitVersion"] == "v1.32.0"
    assert ("kubernetes-admin", ["system:masters"]) in _VersionHandler.seen_identities
    view = subprocess.run([KUBECTL, "config", "view", "--raw", "-o",
                           "jsonpath={.contexts[0].name} {.users[0].name}"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert view.stdout == "kubernetes-admin@kubernetes kubernetes-admin"


def test_concurrent_first_starts_agree_on_one_ca(tmp_path: Path) -> None:
    results: list[bytes] = []
    failures: list[BaseException] = []

    def start() -> None:
        try:
            paths = ensure_apiserver_pki(tmp_path, "127.0.0.1")
            results.append(paths.ca_cert.read_bytes())
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failures
    assert len(results) == 4 and len(set(results)) == 1
