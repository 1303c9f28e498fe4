from __future__ import annotations

import pytest

from pyk8s.kubelet.images import default_pull_policy, should_pull

DIGEST = "sha256:" + "cd" * 32


@pytest.mark.parametrize(("image", "policy"), [
    ("busybox", "Always"), ("busybox:latest", "Always"), ("127.0.0.1:5000/x", "Always"),
    ("busybox:1.36", "IfNotPresent"), ("localhost:5000/x:v1", "IfNotPresent"), (f"busybox@{DIGEST}", "IfNotPresent"),
    (f"busybox:latest@{DIGEST}", "Always"),
])
def test_default_policy(image: str, policy: str) -> None:
    assert default_pull_policy(image) == policy


@pytest.mark.parametrize(("image", "policy", "present", "pull"), [
    ("busybox:1", "Always", True, True),
    ("busybox:1", "Never", False, False),
    ("busybox:1", "IfNotPresent", True, False),
    ("busybox:1", "IfNotPresent", False, True),
    ("busybox", None, True, True),
    ("busybox:1", None, True, False),
    ("busybox:1", "", False, True),
])
def test_should_pull(image: str, policy: str | None, present: bool, pull: bool) -> None:
    assert should_pull(image, policy, present) is pull
