"""The kubelet's image pull decision (pure): the default imagePullPolicy and whether a container needs a pull."""

from __future__ import annotations

PULL_ALWAYS = "Always"
PULL_IF_NOT_PRESENT = "IfNotPresent"
PULL_NEVER = "Never"


def _tag(image: str) -> str:
    """The tag of an image reference as upstream's ParseImageName sees it ("latest" when neither tag nor digest)."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.rsplit(":", 1)[1]
    return "" if digest else "latest"


def default_pull_policy(image: str) -> str:
    """Always for `:latest` or an untagged name, IfNotPresent otherwise (digest-only references too)."""
    return PULL_ALWAYS if _tag(image) == "latest" else PULL_IF_NOT_PRESENT


def should_pull(image_ref: str, policy: str | None, present: bool) -> bool:
    """Whether the kubelet pulls `image_ref` before starting a container, given the image is `present` already.

    Never with the image absent is the caller's ErrImageNeverPull, not a pull."""
    policy = policy or default_pull_policy(image_ref)
    if policy == PULL_ALWAYS:
        return True
    if policy == PULL_NEVER:
        return False
    return not present
