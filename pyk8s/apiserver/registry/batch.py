"""Strategies for batch/v1: Jobs get a generated selector and template labels from their uid."""

from __future__ import annotations

from typing import Any

from pyk8s.api.defaults.batch import generate_job_selector
from pyk8s.apiserver.registry.strategy import RequestContext, Strategy

Obj = dict[str, Any]


class JobStrategy(Strategy):
    def prepare_for_create(self, obj: Obj, ctx: RequestContext) -> None:
        super().prepare_for_create(obj, ctx)
        generate_job_selector(obj)
