"""bench/pod_startup.py runs end to end on a real node with small counts and ends with one JSON object whose
figures are present and plausible (it needs root, runc and the node tools, like the e2e node tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.root

MISSING = "needs root" if os.geteuid() != 0 else next(
    (f"{tool} is not installed" for tool in ("runc", "nsenter", "ip", "docker-registry") if shutil.which(tool) is None),
    "")


@pytest.mark.skipif(bool(MISSING), reason=MISSING)
@pytest.mark.timeout(120)
def test_bench_pod_startup_quick() -> None:
    res = subprocess.run([sys.executable, "bench/pod_startup.py", "--quick"], cwd=REPO, capture_output=True, text=True,
                         timeout=110)
    assert res.returncode == 0, f"stdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    assert "pod startup p99" in res.stdout  # the readable table comes first
    r: dict[str, Any] = orjson.loads(res.stdout.strip().splitlines()[-1])

    assert r["quick"] is True and r["pods"] == 10 and r["rate"] == 20.0
    assert 0 < r["raw_runc_p50_ms"] <= r["raw_runc_p99_ms"] < 5000
    assert 0 < r["serial_p50_ms"] <= r["serial_max_ms"] < 30000
    assert 0 < r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] <= r["max_ms"] < 60000
    # the floor is inside every pod's startup: no pod can start faster than runc alone (allowing for noise)
    assert r["p50_ms"] > 0.5 * r["raw_runc_p50_ms"]
    assert r["ratio_p50_to_raw"] == round(r["p50_ms"] / r["raw_runc_p50_ms"], 2)
    assert 0 < r["starts_per_s"] < 1000
    assert 10 < r["kubelet_rss_mb"] < 2000 and r["kubelet_rss_peak_mb"] >= r["kubelet_rss_mb"]
    assert r["shims"] == r["rss_pods"] == 5 and r["shim_rss_total_mb"] >= r["shim_uss_total_mb"] > 0
    for phase in ("latency_cpu", "sustained_cpu"):
        assert r[phase]["machine_pct"] > 0 and r[phase]["kubelet_pct"] > 0, r[phase]

    b = r["breakdown"]
    assert b["pods"] == 10, b  # every pod's kubelet-side milestones were traced
    segments = b["segments_ms"]
    assert len(segments) == 13 and all(len(v) == 2 and v[0] <= v[1] for v in segments.values()), segments
    # the segments run from create to the watch seeing the pod running, so their p50s add up to about the p50
    assert 0.3 * r["p50_ms"] < sum(v[0] for v in segments.values()) < 3 * r["p50_ms"] + 50
    assert {"cni", "shim", "overlay"} <= set(b["inner_ms"])
    assert r["left_behind"] == [], r["left_behind"]  # nothing of the node is left on the machine
    # the raw runc containers' cgroups went with them
    assert not list(Path("/sys/fs/cgroup").glob("*/pyk8s-bench-runc-*"))
