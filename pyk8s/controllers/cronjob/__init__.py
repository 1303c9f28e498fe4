"""cronjob: creates a Job for each activation of a CronJob's schedule and prunes the Job history."""

from pyk8s.controllers.cronjob.controller import CronJobController
from pyk8s.controllers.framework import ControllerDescriptor

DESCRIPTOR = ControllerDescriptor("cronjob", CronJobController, aliases=("cronjob-controller",))
