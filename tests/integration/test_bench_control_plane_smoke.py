"""bench/scheduler.py and bench/scale.py run end to end with small counts and end with one JSON object."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

REPO = Path(__file__).resolve().parents[2]


def run_bench(*args: str, timeout: float) -> dict[str, Any]:
    res = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"stdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    figures: dict[str, Any] = orjson.loads(res.stdout.strip().splitlines()[-1])
    return figures


@pytest.mark.timeout(180)
def test_bench_scheduler_quick() -> None:
    figures = run_bench("bench/scheduler.py", "--quick", "--nodes", "20", "--pods", "200", timeout=150)
    (run,) = figures["runs"]
    assert run["nodes"] == 20 and run["measured_pods"] == 200
    assert run["pods_per_s"] > 0 and run["ratio_to_680"] == round(run["pods_per_s"] / 680, 2)


@pytest.mark.timeout(300)
def test_bench_scale_quick() -> None:
    figures = run_bench("bench/scale.py", "--quick", timeout=280)
    for key in ("nodes_ready_s", "deployment_running_s", "hold_rss_mb", "hold_cpu_pct_of_one_core",
                "hold_rss_by_component_mb"):
        assert key in figures, key
    assert set(figures["hold_rss_by_component_mb"]) == {"apiserver", "controller-manager", "scheduler"}
    assert figures["hold_rss_mb"] > 0
