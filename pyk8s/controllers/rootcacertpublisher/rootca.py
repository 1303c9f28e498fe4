"""Reading the CA bundle the publisher hands out (upstream's readCA for --root-ca-file): PEM certificates only."""

from __future__ import annotations

from cryptography import x509


class RootCAError(ValueError):
    """The root CA file is unreadable or holds no PEM certificate."""


def read_root_ca(path: str) -> bytes:
    """The file's bytes, unchanged, once they parse as one or more PEM certificates."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise RootCAError(f"error parsing root-ca-file at {path}: {e.strerror or e}") from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as e:
        raise RootCAError(f"error parsing root-ca-file at {path}: {e}") from None
    if not certs:
        raise RootCAError(f"error parsing root-ca-file at {path}: data does not contain any valid RSA or ECDSA "
                          "certificates")
    return data
