"""The DaemonSet controller ("daemonset" in --controllers): one daemon pod on every eligible node."""

from pyk8s.controllers.daemonset.controller import DaemonSetController
from pyk8s.controllers.framework import ControllerDescriptor

DESCRIPTOR = ControllerDescriptor("daemonset", DaemonSetController)

__all__ = ["DESCRIPTOR", "DaemonSetController"]
