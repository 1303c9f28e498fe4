"""bench/validation.py --quick runs and ends with one JSON object holding every figure (timings not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[2]
STEPS = ("orjson_loads", "decode", "prune_unknown", "apply_defaults", "validate_create", "pipeline")


@pytest.mark.timeout(60)
def test_bench_validation_quick_prints_all_figures_as_json() -> None:
    res = subprocess.run([sys.executable, str(REPO / "bench" / "validation.py"), "--quick"], cwd=REPO,
                         capture_output=True, text=True, timeout=50)
    assert res.returncode == 0, f"stdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    figures = orjson.loads(res.stdout.strip().splitlines()[-1])
    for obj in ("pod", "deployment"):
        for step in STEPS:
            assert figures[f"{obj}_{step}_us"] > 0, (obj, step)
        for step in STEPS[1:]:
            assert figures[f"{obj}_{step}_vs_orjson_ratio"] > 0, (obj, step)
    assert figures["quick"] is True
    assert isinstance(figures["pod_pipeline_target_met"], bool)
    assert "pod          validate_create" in res.stdout
