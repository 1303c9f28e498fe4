"""bench/api.py --quick runs end to end and ends with one JSON object holding every figure (timings not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[2]

EXPECTED_KEYS = {
    "quick", "pinned", "cold_start_ms", "rss_idle_mb", "rss_with_pods_mb", "pods_stored", "pod_body_bytes",
    "create_per_s_1", "create_p50_ms_1", "create_p99_ms_1", "create_per_s_16", "create_p50_ms_16",
    "create_p99_ms_16", "get_per_s_64", "get_p50_ms", "get_p99_ms", "list_json_ms", "list_table_ms",
    "watch_watchers", "watch_delay_p50_ms", "watch_delay_p99_ms", "watch_events_missing",
    "sqlite_raw_rows_per_s", "bare_get_per_s_64", "bare_get_p99_ms", "bare_post_echo_per_s_16",
    "create_16_vs_sqlite_ratio", "get_vs_bare_ratio", "targets_met",
}


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_bench_api_quick_prints_all_figures_as_json() -> None:
    res = subprocess.run([sys.executable, str(REPO / "bench" / "api.py"), "--quick"], cwd=REPO,
                         capture_output=True, text=True, timeout=90)
    assert res.returncode == 0, f"stdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    last = res.stdout.strip().splitlines()[-1]
    figures = orjson.loads(last)
    assert isinstance(figures, dict)
    assert EXPECTED_KEYS <= figures.keys(), sorted(EXPECTED_KEYS - figures.keys())
    assert figures["quick"] is True
    assert set(figures["targets_met"]) == {"create_16_vs_sqlite", "get_vs_bare", "get_p99", "list_json",
                                           "list_table", "watch_delay_p99", "cold_start"}
    assert all(isinstance(v, bool) for v in figures["targets_met"].values())
