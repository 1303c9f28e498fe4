"""namespace: deletes everything in a terminating Namespace, then removes its "kubernetes" finalizer."""

from pyk8s.controllers.framework import ControllerDescriptor
from pyk8s.controllers.namespace.controller import NamespaceController

DESCRIPTOR = ControllerDescriptor("namespace", NamespaceController, aliases=("namespace-controller",))
