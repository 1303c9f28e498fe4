"""Image references as Docker and containerd normalise them (`busybox` → `docker.io/library/busybox:latest`).

Parsing follows distribution/reference's grammar: an optional registry domain (it has a `.` or `:`, or is
`localhost`, or has upper case), a lower-case path, then `:tag` and/or `@digest`. `docker.io` names resolve to the
registry host `registry-1.docker.io`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
DOCKER_HUB_HOST = "registry-1.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?")
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}")
DIGEST_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_HEX64_RE = re.compile(r"[a-f0-9]{64}")


class InvalidReferenceError(ValueError):
    """The text is not a valid image reference (message in upstream's words)."""


@dataclass(frozen=True)
class Reference:
    domain: str  # docker.io, 127.0.0.1:5000
    path: str  # library/busybox
    tag: str = ""  # "" when the reference names a digest only
    digest: str = ""  # sha256:<hex> or ""

    @property
    def name(self) -> str:
        """The fully qualified repository name: docker.io/library/busybox."""
        return f"{self.domain}/{self.path}"

    @property
    def object(self) -> str:
        """What to ask the registry for: the digest if there is one, else the tag."""
        return self.digest or self.tag

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def tagged(self) -> str:
        """name:tag, or "" when the reference has no tag."""
        return f"{self.name}:{self.tag}" if self.tag else ""

    def digested(self, digest: str) -> str:
        return f"{self.name}@{digest}"


def parse_reference(text: str) -> Reference:
    """Normalise `text` like Docker's ParseDockerRef: add docker.io, library/ and :latest where missing."""
    if not text:
        raise InvalidReferenceError("invalid reference format: repository name must have at least one component")
    if _HEX64_RE.fullmatch(text):
        raise InvalidReferenceError(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    rest, digest = text, ""
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not DIGEST_RE.fullmatch(digest):
            raise InvalidReferenceError("invalid reference format")
    slash = rest.find("/")
    first = rest[:slash] if slash >= 0 else ""
    if slash < 0 or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, rest
    else:
        domain, remainder = first, rest[slash + 1:]
        if not _DOMAIN_RE.fullmatch(domain):
            raise InvalidReferenceError("invalid reference format")
    tag = ""
    last_slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > last_slash:
        remainder, tag = remainder[:colon], remainder[colon + 1:]
        if not _TAG_RE.fullmatch(tag):
            raise InvalidReferenceError("invalid reference format")
    if remainder.lower() != remainder:
        raise InvalidReferenceError("invalid reference format: repository name must be lowercase")
    if not _PATH_RE.fullmatch(remainder):
        raise InvalidReferenceError("invalid reference format")
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    if len(domain) + 1 + len(remainder) > 255:
        raise InvalidReferenceError("invalid reference format: repository name must not be more than 255 characters")
    if not tag and not digest:
        tag = DEFAULT_TAG
    return Reference(domain=domain, path=remainder, tag=tag, digest=digest.lower() if digest else "")


def registry_host(domain: str) -> str:
    """The host serving the distribution API for a reference's domain (docker.io → registry-1.docker.io)."""
    return DOCKER_HUB_HOST if domain in (DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN) else domain


def is_loopback_host(host: str) -> bool:
    """localhost / 127.x / [::1], with or without a port: registries there speak plain HTTP by default."""
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return name == "localhost" or name.startswith("127.") or name == "[::1]"
