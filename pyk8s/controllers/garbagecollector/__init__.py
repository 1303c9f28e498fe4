"""The garbage collector: removes dependents whose owners are gone; runs foreground and orphan deletion."""

from pyk8s.controllers.framework import ControllerDescriptor
from pyk8s.controllers.garbagecollector.controller import GarbageCollector

DESCRIPTOR = ControllerDescriptor("garbagecollector", GarbageCollector, aliases=("garbage-collector-controller",))

__all__ = ["DESCRIPTOR", "GarbageCollector"]
