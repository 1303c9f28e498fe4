"""ttl-after-finished: deletes finished Jobs once spec.ttlSecondsAfterFinished has passed."""

from pyk8s.controllers.framework import ControllerDescriptor
from pyk8s.controllers.ttlafterfinished.controller import TTLAfterFinishedController

DESCRIPTOR = ControllerDescriptor("ttl-after-finished", TTLAfterFinishedController,
                                  aliases=("ttl-after-finished-controller",))
