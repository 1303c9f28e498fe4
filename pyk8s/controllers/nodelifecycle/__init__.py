"""Node lifecycle: dead-kubelet detection and node taints (nodelifecycle), and taint-based pod eviction
(taint-eviction-controller, a controller of its own as upstream since SeparateTaintEvictionController)."""

from pyk8s.controllers.framework import ControllerDescriptor
from pyk8s.controllers.nodelifecycle.controller import NodeLifecycleController
from pyk8s.controllers.nodelifecycle.tainteviction import TaintEvictionController

DESCRIPTOR = ControllerDescriptor("nodelifecycle", NodeLifecycleController, aliases=("node-lifecycle-controller",))
TAINT_EVICTION_DESCRIPTOR = ControllerDescriptor("taint-eviction-controller", TaintEvictionController)
DESCRIPTORS = (TAINT_EVICTION_DESCRIPTOR,)  # the manager reads DESCRIPTOR and DESCRIPTORS

__all__ = ["DESCRIPTOR", "DESCRIPTORS", "TAINT_EVICTION_DESCRIPTOR", "NodeLifecycleController",
           "TaintEvictionController"]
