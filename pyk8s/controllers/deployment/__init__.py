"""Deployment controller (kube-controller-manager --controllers name "deployment")."""

from pyk8s.controllers.deployment.controller import DeploymentController
from pyk8s.controllers.framework import ControllerDescriptor

DESCRIPTOR = ControllerDescriptor("deployment", DeploymentController)

__all__ = ["DESCRIPTOR", "DeploymentController"]
