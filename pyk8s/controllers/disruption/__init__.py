"""Disruption controller: PodDisruptionBudget status (healthy Pods, allowed disruptions, evicted Pods)."""

from pyk8s.controllers.disruption.controller import DisruptionController
from pyk8s.controllers.framework import ControllerDescriptor

DESCRIPTOR = ControllerDescriptor("disruption", DisruptionController, aliases=("disruption-controller",))

__all__ = ["DESCRIPTOR", "DisruptionController"]
