"""The two seams inside the runc runtime: where a container's layers come from and how a pod gets its network.

runtime.py (containers and sandboxes) depends only on these Protocols, so the image store (images/) and the CNI
driver (cni.py) are built and tested on their own, and tests of the container runtime can use a plain
directory as the rootfs and a bare network namespace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pyk8s.kubelet.cri.interface import PortMapping


@dataclass
class ImageConfig:
    """The parts of an OCI image config (`config` section) a container is built from."""

    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)  # "K=V"
    working_dir: str = ""
    user: str = ""
    stop_signal: str = ""
    labels: dict[str, str] = field(default_factory=dict)


class LayerStore(Protocol):
    """Unpacked image layers, for overlayfs."""

    def layer_dirs(self, image_id: str) -> list[str]:
        """Absolute paths of the unpacked layers of the image, lowest first (overlay's lowerdir is the reverse).
        Raises interface.NotFoundError for an unknown image."""

    def image_config(self, image_id: str) -> ImageConfig:
        """The image's runtime config. Raises interface.NotFoundError for an unknown image."""

    def resolve(self, ref: str) -> str | None:
        """The image id a reference (tag, digest or id) names on this node, or None."""


@dataclass
class PodNetworkAttachment:
    """What setting up a pod's network produced; kept by the runtime to tear it down later."""

    ip: str
    gateway: str = ""
    additional_ips: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)  # the CNI result, for DEL's prevResult


class PodNetwork(Protocol):
    """Sets a pod's network namespace up and down (CNI on a real node)."""

    async def setup(self, *, sandbox_id: str, netns_path: str, namespace: str, name: str, uid: str,
                    port_mappings: list[PortMapping]) -> PodNetworkAttachment:
        """Give the namespace at `netns_path` its interfaces and address. Raises interface.CRIError."""

    async def teardown(self, *, sandbox_id: str, netns_path: str, namespace: str, name: str, uid: str,
                       port_mappings: list[PortMapping], attachment: PodNetworkAttachment | None) -> None:
        """Undo setup; idempotent, and works when the namespace is already gone."""
