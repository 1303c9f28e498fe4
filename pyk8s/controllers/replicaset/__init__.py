"""ReplicaSet controller (kube-controller-manager --controllers name "replicaset")."""

from pyk8s.controllers.framework import ControllerDescriptor
from pyk8s.controllers.replicaset.controller import ReplicaSetController

DESCRIPTOR = ControllerDescriptor("replicaset", ReplicaSetController)

__all__ = ["DESCRIPTOR", "ReplicaSetController"]
