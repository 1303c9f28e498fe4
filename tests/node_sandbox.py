"""The test side of the one-machine node topology: the code lives in pyk8s.kubelet.localnet (so `pyk8s up` runs
the same thing); this keeps the tests' import path and names."""

from __future__ import annotations

from pyk8s.kubelet.localnet import NETNS_DIR, Node, NodeNetwork, forward_port

__all__ = ["NETNS_DIR", "Node", "NodeNetwork", "forward_port"]
