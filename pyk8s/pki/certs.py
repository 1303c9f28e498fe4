"""Certificates for the cluster: a self-signed CA, serving and client certificates it signs, CSR signing,
and the service-account token signing key.

Certificates follow kubeadm's profile: EC P-256 keys (RSA-2048 for the service-account key, which signs
RS256 tokens), backdated by five minutes for clock skew, leaf lifetimes capped at the CA's, Subject Key
Identifier on the CA and Authority Key Identifier on every leaf. A client certificate's identity is its
subject: CN is the user name and each O is a group, which is how the apiserver's x509 authenticator
reads it (``subject_of``).

Files are written atomically; private keys are created with mode 0600 and certificates with 0644.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BACKDATE = datetime.timedelta(minutes=5)
KEY_MODE = 0o600
CERT_MODE = 0o644

CertificateSource = bytes | str | x509.Certificate


class PKIError(ValueError):
    """Unusable key material or request: unreadable files, a CSR with a bad signature, an unknown usage."""


@dataclass(frozen=True, slots=True)
class CertKeyPair:
    """A PEM certificate and its PEM private key."""

    cert_pem: bytes
    key_pem: bytes

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    def private_key(self) -> CertificateIssuerPrivateKeyTypes:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise PKIError(f"unsupported private key type {type(key).__name__}")
        return key


# ---- keys ----

def new_private_key_pem() -> bytes:
    """A fresh EC P-256 private key (SEC1 PEM, as kubeadm writes it)."""
    return _private_key_pem(ec.generate_private_key(ec.SECP256R1()))


def _private_key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def new_sa_signing_key() -> bytes:
    """RSA-2048 private key (PKCS#1 PEM) for signing service-account tokens."""
    return _private_key_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def public_key_pem(private_key_pem: bytes) -> bytes:
    """The PKIX ("BEGIN PUBLIC KEY") PEM of a private key's public half (``sa.pub``)."""
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


# ---- building certificates ----

def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    # Organisations first, then CN: the order Go's pkix.Name produces.
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def new_ca(common_name: str = "kubernetes", days: int = 3650) -> CertKeyPair:
    """A self-signed CA certificate and key (BasicConstraints CA, KeyUsage certSign/cRLSign/digitalSignature)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertKeyPair(cert.public_bytes(serialization.Encoding.PEM), _private_key_pem(key))


def _key_usage(**flags: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    values = {n: flags.get(n, False) for n in names}
    if not values["key_agreement"]:
        # cryptography only accepts these two together with key agreement.
        values["encipher_only"] = values["decipher_only"] = False
    return x509.KeyUsage(**values)


def split_sans(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) from a mixed list such as ``--tls-san`` values."""
    dns: list[str] = []
    ips: list[str] = []
    for n in names:
        try:
            ips.append(str(ipaddress.ip_address(n)))
        except ValueError:
            dns.append(n)
    return dns, ips


def _san_extension(dns_names: Iterable[str], ips: Iterable[str], extra: Iterable[x509.GeneralName] = ()
                   ) -> x509.SubjectAlternativeName | None:
    general: list[x509.GeneralName] = []
    for d in dict.fromkeys(dns_names):
        general.append(x509.DNSName(d))
    for ip in dict.fromkeys(ips):
        general.append(x509.IPAddress(ipaddress.ip_address(ip)))
    general.extend(extra)
    return x509.SubjectAlternativeName(general) if general else None


def _sign_leaf(ca: CertKeyPair, subject: x509.Name, public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
               key_usage: x509.KeyUsage, ext_usages: Sequence[x509.ObjectIdentifier],
               san: x509.SubjectAlternativeName | None, days: int) -> bytes:
    ca_cert = ca.certificate()
    now = _now()
    not_after = min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(_authority_key_id(ca_cert), critical=False)
    )
    if ext_usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(ext_usages)), critical=False)
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return builder.sign(ca.private_key(), hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _authority_key_id(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        ski = x509.SubjectKeyIdentifier.from_public_key(_public_key(ca_cert))
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _public_key(cert: x509.Certificate) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise PKIError(f"unsupported public key type {type(key).__name__}")
    return key


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def new_serving_cert(ca: CertKeyPair, common_name: str, dns_names: Sequence[str], ips: Sequence[str],
                     days: int = 365) -> CertKeyPair:
    """A TLS server certificate (EKU serverAuth) for the given DNS names and IP addresses."""
    key = _new_key()
    cert_pem = _sign_leaf(ca, _name(common_name), key.public_key(),
                          _key_usage(digital_signature=True, key_encipherment=True),
                          [ExtendedKeyUsageOID.SERVER_AUTH], _san_extension(dns_names, ips), days)
    return CertKeyPair(cert_pem, _private_key_pem(key))


def new_client_cert(ca: CertKeyPair, common_name: str, organizations: Sequence[str], days: int = 365) -> CertKeyPair:
    """A TLS client certificate (EKU clientAuth): CN is the user name, each O a group."""
    key = _new_key()
    cert_pem = _sign_leaf(ca, _name(common_name, organizations), key.public_key(),
                          _key_usage(digital_signature=True, key_encipherment=True),
                          [ExtendedKeyUsageOID.CLIENT_AUTH], None, days)
    return CertKeyPair(cert_pem, _private_key_pem(key))


# ---- CSRs (certificates.k8s.io usages) ----

_KEY_USAGES = {
    "signing": "digital_signature",
    "digital signature": "digital_signature",
    "content commitment": "content_commitment",
    "key encipherment": "key_encipherment",
    "key agreement": "key_agreement",
    "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign",
    "crl sign": "crl_sign",
    "encipher only": "encipher_only",
    "decipher only": "decipher_only",
}

_EXT_KEY_USAGES = {
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec end system": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec tunnel": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec user": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft sgc": x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape sgc": x509.ObjectIdentifier("2.16.840.1.113730.4.1"),
}


def new_csr(key_pem: bytes, common_name: str, organizations: Sequence[str] = (),
            dns_names: Sequence[str] = (), ips: Sequence[str] = ()) -> bytes:
    """A PEM certificate request for ``key_pem`` (what a kubelet sends to get its certificate)."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PKIError(f"unsupported private key type {type(key).__name__}")
    builder = x509.CertificateSigningRequestBuilder().subject_name(_name(common_name, organizations))
    san = _san_extension(dns_names, ips)
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def sign_csr(ca: CertKeyPair, csr_pem: bytes, usages: Sequence[str], days: int = 365) -> bytes:
    """Issue a certificate for a CSR with certificates.k8s.io usages (``"client auth"``, ``"digital signature"``...).

    Subject and subject alternative names come from the request; the lifetime is capped at the CA's.
    Raises PKIError for an unparsable request, a bad request signature or an unknown usage.
    """
    try:
        csr = (x509.load_pem_x509_csr(csr_pem) if b"-----BEGIN" in csr_pem else x509.load_der_x509_csr(csr_pem))
    except ValueError as e:
        raise PKIError(f"unable to parse certificate request: {e}") from e
    try:
        valid = csr.is_signature_valid
    except InvalidSignature:
        valid = False
    if not valid:
        raise PKIError("certificate request signature is invalid")
    flags: dict[str, bool] = {}
    ext_usages: list[x509.ObjectIdentifier] = []
    for usage in usages:
        if usage in _KEY_USAGES:
            flags[_KEY_USAGES[usage]] = True
        elif usage in _EXT_KEY_USAGES:
            if _EXT_KEY_USAGES[usage] not in ext_usages:
                ext_usages.append(_EXT_KEY_USAGES[usage])
        else:
            raise PKIError(f"unknown key usage: {usage}")
    try:
        requested = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        san: x509.SubjectAlternativeName | None = x509.SubjectAlternativeName(list(requested))
    except x509.ExtensionNotFound:
        san = None
    public_key = csr.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise PKIError(f"unsupported public key type {type(public_key).__name__}")
    return _sign_leaf(ca, csr.subject, public_key, _key_usage(**flags), ext_usages, san, days)


# ---- reading certificates ----

def load_certificate(source: CertificateSource) -> x509.Certificate:
    """A certificate from PEM or DER bytes, PEM text, or as is."""
    if isinstance(source, x509.Certificate):
        return source
    data = source.encode() if isinstance(source, str) else source
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as e:
        raise PKIError(f"unable to parse certificate: {e}") from e


def subject_of(cert: CertificateSource) -> tuple[str, list[str]]:
    """(common name, organizations): the user name and groups the x509 authenticator takes from a client cert."""
    subject = load_certificate(cert).subject
    cns = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return (_attr_text(cns[0].value) if cns else ""), [_attr_text(o.value) for o in orgs]


def _attr_text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def sans_of(cert: CertificateSource) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) of a certificate's subject alternative names."""
    try:
        san = load_certificate(cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return san.get_values_for_type(x509.DNSName), [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]


def is_signed_by(cert: CertificateSource, ca_cert: CertificateSource) -> bool:
    """Whether ``ca_cert`` issued ``cert`` (issuer name and signature checked)."""
    try:
        load_certificate(cert).verify_directly_issued_by(load_certificate(ca_cert))
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def ca_cert_hash(ca_cert_pem: CertificateSource) -> str:
    """kubeadm's ``--discovery-token-ca-cert-hash``: ``sha256:`` + hex SHA-256 of the DER SubjectPublicKeyInfo."""
    spki = load_certificate(ca_cert_pem).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(spki).hexdigest()


# ---- files ----

def write_file(path: str | os.PathLike[str], data: bytes, mode: int) -> Path:
    """Atomically replace ``path`` with ``data``; the file never exists with looser permissions than ``mode``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def write_pair(directory: str | os.PathLike[str], name: str, pair: CertKeyPair) -> tuple[Path, Path]:
    """Write ``<dir>/<name>.crt`` (0644) and ``<dir>/<name>.key`` (0600); returns (cert path, key path)."""
    base = Path(directory)
    key_path = write_file(base / f"{name}.key", pair.key_pem, KEY_MODE)
    cert_path = write_file(base / f"{name}.crt", pair.cert_pem, CERT_MODE)
    return cert_path, key_path


def load_pair(cert_path: str | os.PathLike[str], key_path: str | os.PathLike[str]) -> CertKeyPair:
    """Read a certificate and key written by ``write_pair`` (or kubeadm); PKIError if unreadable or unparsable."""
    try:
        pair = CertKeyPair(Path(cert_path).read_bytes(), Path(key_path).read_bytes())
        pair.certificate()
        pair.private_key()
    except (OSError, ValueError) as e:
        raise PKIError(f"unable to load {cert_path} / {key_path}: {e}") from e
    return pair
