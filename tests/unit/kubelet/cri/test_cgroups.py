"""cgroups.py on fake cgroupfs trees: the v1 layout (one hierarchy per controller) and the unified v2 layout.

This machine runs v1, so the v2 branch (what `kubectl top` reads on most current distributions) is checked here
against files shaped like the kernel's.
"""

from __future__ import annotations

from pathlib import Path

from pyk8s.kubelet.cri.runc import cgroups

CG = "/pyk8s/n1/kubepods/podabc/c1"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_v2_stats_oom_and_pod_limits(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    d = tmp_path / CG.lstrip("/")
    _write(d / "cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    _write(d / "memory.current", "10485760\n")
    _write(d / "memory.stat", "anon 6291456\nfile 4194304\ninactive_file 3145728\nactive_file 1048576\n")
    _write(d / "memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    assert cgroups.is_v2(str(tmp_path))
    s = cgroups.stats(CG, str(tmp_path))
    assert s.cpu_usage_ns == 2_500_000_000
    assert (s.memory_usage_bytes, s.memory_working_set_bytes) == (10_485_760, 10_485_760 - 3_145_728)
    assert s.oom_kills == 1 and cgroups.oom_kills(CG, str(tmp_path)) == 1

    pod = "/pyk8s/n1/kubepods/podxyz"
    cgroups.ensure_pod_cgroup(pod, cpu_shares=1024, cpu_quota=50000, cpu_period=100000, memory_limit=64 << 20,
                              mount=str(tmp_path))
    pd = tmp_path / pod.lstrip("/")
    assert (pd / "cpu.max").read_text() == "50000 100000"
    assert (pd / "memory.max").read_text() == str(64 << 20)
    assert 1 <= int((pd / "cpu.weight").read_text()) <= 10000
    assert cgroups.controller_dirs(pod, str(tmp_path)) == [str(pd)]


def test_v1_stats_and_working_set_never_negative(tmp_path: Path) -> None:
    for ctrl in ("cpu", "cpuacct", "memory"):
        (tmp_path / ctrl).mkdir()
    _write(tmp_path / "cpuacct" / CG.lstrip("/") / "cpuacct.usage", "123456789\n")
    mem = tmp_path / "memory" / CG.lstrip("/")
    _write(mem / "memory.usage_in_bytes", "1000\n")
    _write(mem / "memory.stat", "cache 5000\ntotal_inactive_file 5000\n")
    _write(mem / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert not cgroups.is_v2(str(tmp_path))
    s = cgroups.stats(CG, str(tmp_path))
    assert s.cpu_usage_ns == 123_456_789 and s.memory_usage_bytes == 1000
    assert s.memory_working_set_bytes == 0  # inactive file pages above usage: clamp, as the kubelet does
    assert s.oom_kills == 2
    missing = cgroups.stats("/pyk8s/n1/gone", str(tmp_path))
    assert (missing.cpu_usage_ns, missing.memory_usage_bytes, missing.oom_kills) == (0, 0, 0)
