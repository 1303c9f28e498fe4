"""The pod garbage collector: terminated pods over the threshold, orphaned and stuck terminating pods."""

from pyk8s.controllers.framework import ControllerDescriptor
from pyk8s.controllers.podgc.controller import PodGCController

DESCRIPTOR = ControllerDescriptor("podgc", PodGCController, aliases=("pod-garbage-collector-controller",))

__all__ = ["DESCRIPTOR", "PodGCController"]
