"""Node IPAM: hands each Node a pod subnet from --cluster-cidr (upstream's range allocator)."""

from pyk8s.controllers.framework import ControllerDescriptor
from pyk8s.controllers.nodeipam.controller import NodeIpamController

DESCRIPTOR = ControllerDescriptor("nodeipam", NodeIpamController, aliases=("node-ipam-controller",))

__all__ = ["DESCRIPTOR", "NodeIpamController"]
