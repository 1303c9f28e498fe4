"""job: runs a Job's pods to completion, counting each finished pod exactly once."""

from pyk8s.controllers.framework import ControllerDescriptor
from pyk8s.controllers.job.controller import JobController

DESCRIPTOR = ControllerDescriptor("job", JobController, aliases=("job-controller",))
