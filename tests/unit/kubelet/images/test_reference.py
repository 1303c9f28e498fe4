from __future__ import annotations

import pytest

from pyk8s.kubelet.cri.runc.images.reference import InvalidReferenceError, parse_reference, registry_host

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(("text", "expected"), [
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest"),
    ("someone/app:v1", "docker.io/someone/app:v1"),
    ("index.docker.io/library/busybox:1", "docker.io/library/busybox:1"),
    ("docker.io/busybox", "docker.io/library/busybox:latest"),
    ("127.0.0.1:5000/x:tag", "127.0.0.1:5000/x:tag"),
    ("localhost/x", "localhost/x:latest"),
    ("localhost:5000/a/b/c", "localhost:5000/a/b/c:latest"),
    ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"),
    (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}"),
    (f"127.0.0.1:5000/x:t@{DIGEST}", f"127.0.0.1:5000/x:t@{DIGEST}"),
])
def test_normalises_like_docker(text: str, expected: str) -> None:
    assert str(parse_reference(text)) == expected


def test_parts() -> None:
    ref = parse_reference(f"127.0.0.1:5000/team/app@{DIGEST}")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("127.0.0.1:5000", "team/app", "", DIGEST)
    assert ref.object == DIGEST and ref.tagged() == "" and ref.name == "127.0.0.1:5000/team/app"
    assert parse_reference("busybox:1").object == "1"


@pytest.mark.parametrize("text", ["", "Busybox", "busybox:", "busybox@sha256:abc", "a//b", "-x", "x:-bad",
                                  "ab" * 32])
def test_invalid(text: str) -> None:
    with pytest.raises(InvalidReferenceError):
        parse_reference(text)


def test_uppercase_message() -> None:
    with pytest.raises(InvalidReferenceError, match="repository name must be lowercase"):
        parse_reference("docker.io/Library/busybox")


def test_registry_host() -> None:
    assert registry_host("docker.io") == "registry-1.docker.io"
    assert registry_host("127.0.0.1:5000") == "127.0.0.1:5000"
