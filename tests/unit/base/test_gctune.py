"""base.gctune: the collector settings the apiserver and the controller-manager apply at start."""

from __future__ import annotations

import gc

from pyk8s.base.gctune import tune_gc


def test_tune_gc_makes_full_collections_rare_but_keeps_collecting() -> None:
    before = gc.get_threshold()
    try:
        tune_gc(middle_every=20)
        young, middle, full = gc.get_threshold()
        assert (young, middle, full) == (50_000, 20, 100)
        # A full collection is considered only after young * middle * full allocations: far rarer than by default.
        assert young * middle * full >= 1000 * 700 * 10 * 10
        assert gc.isenabled() and gc.get_freeze_count() > 0  # cycles still collected; start-up objects frozen
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
