"""certificates.k8s.io/v1 CertificateSigningRequest validation.

The request must be a PEM ``CERTIFICATE REQUEST`` whose signature verifies; usages and the signer
name follow upstream's rules and messages.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation.common import Errs, Obj

SPEC: Final = Path.of("spec")
USAGES: Final = sorted(
    [
        "signing",
        "digital signature",
        "content commitment",
        "key encipherment",
        "key agreement",
        "data encipherment",
        "cert sign",
        "crl sign",
        "encipher only",
        "decipher only",
        "any",
        "server auth",
        "client auth",
        "code signing",
        "email protection",
        "s/mime",
        "ipsec end system",
        "ipsec tunnel",
        "ipsec user",
        "timestamping",
        "ocsp signing",
        "microsoft sgc",
        "netscape sgc",
    ]
)


def _csr_problem(request: str) -> str | None:
    """None when ``spec.request`` (base64 in JSON) holds a PEM CSR with a valid signature, else why not."""
    try:
        pem = base64.b64decode(request, validate=True)
    except (binascii.Error, ValueError):
        return "PEM block type must be CERTIFICATE REQUEST"
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        return "PEM block type must be CERTIFICATE REQUEST"
    try:
        csr = x509.load_pem_x509_csr(pem)
    except ValueError as e:
        return f"x509: malformed certificate request: {e}"
    if not csr.is_signature_valid:
        return "x509: signature verification failure"
    try:
        csr.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    except (ValueError, TypeError) as e:
        return str(e)
    return None


def signer_name(name: str, path: Path) -> Errs:
    if not name:
        return [fe.required(path, "signerName must be provided")]
    segments = name.split("/")
    if len(segments) != 2:
        return [
            fe.invalid(path, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'")
        ]
    domain, rest = segments
    errs: Errs = []
    if len(domain) > 253:
        errs.append(fe.too_long(path, 253))
    for label in domain.split("."):
        msgs = c.name_is_dns_label(label, False)
        if msgs:
            errs += [fe.invalid(path, domain, f"validating label {fe.go_quote(label)}: {m}") for m in msgs]
            break
    if len(domain.split(".")) < 2:
        errs.append(fe.invalid(path, domain, "should be a domain with at least two segments separated by dots"))
    for label in rest.split("."):
        msgs = c.name_is_dns_subdomain(label, False)
        if msgs:
            errs += [fe.invalid(path, rest, f"validating label {fe.go_quote(label)}: {m}") for m in msgs]
            break
    if len(name) > 253 + 253 + 63 + 1 + 1:
        errs.append(fe.too_long(path, 253 + 253 + 63 + 1 + 1))
    return errs


def validate_csr(csr: Obj, old: Obj | None = None) -> Errs:
    errs = vm.validate_object_meta(csr, False, c.no_name_check)
    spec = c.dct(csr.get("spec"))
    problem = _csr_problem(c.s(spec.get("request")))
    if problem:
        errs.append(fe.invalid(SPEC.child("request"), c.s(spec.get("request")), problem))
    usages = [c.s(u) for u in c.lst(spec.get("usages"))]
    if not usages:
        errs.append(fe.required(SPEC.child("usages")))
    seen: set[str] = set()
    for n, usage in enumerate(usages):
        if usage not in USAGES:
            errs.append(fe.not_supported(SPEC.child("usages").index(n), usage, USAGES))
        if usage in seen:
            errs.append(fe.duplicate(SPEC.child("usages").index(n), usage))
        seen.add(usage)
    errs += signer_name(c.s(spec.get("signerName")), SPEC.child("signerName"))
    exp = spec.get("expirationSeconds")
    if isinstance(exp, int) and exp < 600:
        errs.append(
            fe.invalid(
                SPEC.child("expirationSeconds"), exp, "may not specify a duration less than 600 seconds (10 minutes)"
            )
        )
    if old is not None:
        errs += vm.validate_object_meta_update(csr, old)
    return errs
