"""Endpoints controller: core/v1 Endpoints for every Service with a selector."""

from pyk8s.controllers.endpoints.controller import EndpointsController
from pyk8s.controllers.framework import ControllerDescriptor

DESCRIPTOR = ControllerDescriptor("endpoint", EndpointsController, aliases=("endpoints-controller",))

__all__ = ["DESCRIPTOR", "EndpointsController"]
