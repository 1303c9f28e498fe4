"""EndpointSlice controller: discovery.k8s.io/v1 EndpointSlices for every Service with a selector."""

from pyk8s.controllers.endpointslice.controller import EndpointSliceController
from pyk8s.controllers.framework import ControllerDescriptor

DESCRIPTOR = ControllerDescriptor("endpointslice", EndpointSliceController, aliases=("endpointslice-controller",))

__all__ = ["DESCRIPTOR", "EndpointSliceController"]
