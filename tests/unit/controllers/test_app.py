"""controllers.app: the process-level tuning the controller-manager applies before it starts."""

from __future__ import annotations

import gc

from pyk8s.controllers.app import GC_THRESHOLDS, tune_gc


def test_tune_gc_makes_full_collections_rare() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        young, middle, full = GC_THRESHOLDS
        default_young, default_middle, default_full = 700, 10, 10
        # A full collection is considered only after young * middle * full allocations: far rarer than by default.
        assert young * middle * full >= 1000 * default_young * default_middle * default_full
        assert gc.isenabled()  # cycles are still collected
    finally:
        gc.set_threshold(*before)
