"""The StatefulSet controller ("statefulset" in --controllers): ordered pods with stable names and storage."""

from pyk8s.controllers.framework import ControllerDescriptor
from pyk8s.controllers.statefulset.controller import StatefulSetController

DESCRIPTOR = ControllerDescriptor("statefulset", StatefulSetController)

__all__ = ["DESCRIPTOR", "StatefulSetController"]
