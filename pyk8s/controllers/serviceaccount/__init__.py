"""serviceaccount: keeps a ServiceAccount "default" in every active Namespace."""

from pyk8s.controllers.framework import ControllerDescriptor
from pyk8s.controllers.serviceaccount.controller import ServiceAccountsController

DESCRIPTOR = ControllerDescriptor("serviceaccount", ServiceAccountsController, aliases=("serviceaccount-controller",))
