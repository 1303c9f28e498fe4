"""OCI spec generation from CRI container configs (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.kubelet.cri.interface import (
    ContainerConfig,
    ContainerMetadata,
    CRIError,
    LinuxContainerResources,
    LinuxContainerSecurityContext,
    Mount,
    PodSandboxConfig,
    PodSandboxMetadata,
)
from pyk8s.kubelet.cri.runc.seams import ImageConfig
from pyk8s.kubelet.cri.runc.spec import (
    ALL_CAPABILITIES,
    DEFAULT_CAPABILITIES,
    MASKED_PATHS,
    READONLY_PATHS,
    PodFiles,
    build_spec,
    capabilities,
    merge_env,
    process_args,
    resolve_user,
)

SANDBOX = PodSandboxConfig(metadata=PodSandboxMetadata(name="web", namespace="default", uid="u1"), hostname="web",
                           log_directory="/var/log/pods/default_web_u1")
IMAGE = ImageConfig(entrypoint=["/entry"], cmd=["--serve"], env=["PATH=/bin", "A=image"], working_dir="/srv")
PASSWD = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:34:www:/var/www:/bin/sh\nbad line\n"
GROUP = "root:x:0:\nwww-data:x:34:\nstaff:x:50:www,other\nvideo:x:44:www\n"


def cfg(**kw: Any) -> ContainerConfig:
    return ContainerConfig(metadata=ContainerMetadata(name="c"), image="img", **kw)


def spec(config: ContainerConfig | None = None, **kw: Any) -> dict[str, Any]:
    kw.setdefault("netns_path", "/run/netns/pyk8s-abc")
    kw.setdefault("cgroups_path", "/pyk8s/n1/podu1/cid")
    return build_spec(config or cfg(), SANDBOX, kw.pop("image", IMAGE), passwd=PASSWD, group=GROUP, **kw)


@pytest.mark.parametrize(("command", "args", "expected"), [
    ([], [], ["/entry", "--serve"]),
    (["/bin/sh"], [], ["/bin/sh"]),  # command drops the image Cmd
    (["/bin/sh"], ["-c", "x"], ["/bin/sh", "-c", "x"]),
    ([], ["--other"], ["/entry", "--other"]),  # args replace Cmd
])
def test_process_args(command: list[str], args: list[str], expected: list[str]) -> None:
    assert process_args(cfg(command=command, args=args), IMAGE) == expected


def test_no_command_at_all_is_an_error() -> None:
    with pytest.raises(CRIError, match="no command"):
        process_args(cfg(), ImageConfig())


def test_env_merge_order_and_default_path() -> None:
    assert merge_env(["PATH=/bin", "A=1", "B=2"], [("A", "3"), ("C", "4")], "web") == [
        "HOSTNAME=web", "PATH=/bin", "A=3", "B=2", "C=4"]
    assert merge_env([], [("X", "=y")])[0].startswith("PATH=/usr/local/sbin")
    assert merge_env([], [("X", "=y")])[1] == "X==y"


def test_capabilities_default_add_drop_privileged() -> None:
    assert capabilities([], [], False) == DEFAULT_CAPABILITIES
    caps = capabilities(["NET_ADMIN", "CAP_SYS_TIME"], ["KILL", "CAP_CHOWN"], False)
    assert "CAP_NET_ADMIN" in caps and "CAP_SYS_TIME" in caps
    assert "CAP_KILL" not in caps and "CAP_CHOWN" not in caps
    assert capabilities(["NET_BIND_SERVICE"], ["ALL"], False) == ["CAP_NET_BIND_SERVICE"]
    assert capabilities([], ["all"], False) == []
    assert capabilities(["ALL"], ["SYS_ADMIN"], False) == [c for c in ALL_CAPABILITIES if c != "CAP_SYS_ADMIN"]
    assert capabilities([], ["ALL"], True) == ALL_CAPABILITIES
    with pytest.raises(CRIError, match="unknown capability"):
        capabilities(["FLY"], [], False)


def test_user_resolution() -> None:
    assert resolve_user("", PASSWD, GROUP) == {"uid": 0, "gid": 0}
    assert resolve_user("www", PASSWD, GROUP) == {"uid": 33, "gid": 34, "additionalGids": [50, 44]}
    assert resolve_user("33", PASSWD, GROUP)["gid"] == 34
    assert resolve_user("1000", PASSWD, GROUP) == {"uid": 1000, "gid": 0}
    assert resolve_user("www:staff", PASSWD, GROUP)["gid"] == 50
    assert resolve_user("1000:7", PASSWD, GROUP) == {"uid": 1000, "gid": 7}
    assert resolve_user("www", PASSWD, GROUP, run_as_user=1234, run_as_group=5, supplemental_groups=[9]) == {
        "uid": 1234, "gid": 5, "additionalGids": [9]}
    assert resolve_user("", PASSWD, GROUP, run_as_user=33)["gid"] == 34
    with pytest.raises(CRIError, match="unable to find user nobody"):
        resolve_user("nobody", PASSWD, GROUP)
    with pytest.raises(CRIError, match="unable to find group"):
        resolve_user("www:wheel", PASSWD, GROUP)


def test_default_spec_shape() -> None:
    s = spec(pod_files=PodFiles(hosts="/p/hosts", hostname="/p/hostname", resolv_conf="/p/resolv.conf"),
             termination_log="/c/termination-log", nofile=4096)
    p = s["process"]
    assert p["args"] == ["/entry", "--serve"] and p["cwd"] == "/srv" and p["terminal"] is False
    assert p["user"] == {"uid": 0, "gid": 0}
    assert p["capabilities"]["bounding"] == DEFAULT_CAPABILITIES == p["capabilities"]["effective"]
    assert p["noNewPrivileges"] is False and "oomScoreAdj" not in p
    assert p["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 4096}]
    assert s["root"] == {"path": "rootfs", "readonly": False}
    assert s["hostname"] == "web"
    ns = s["linux"]["namespaces"]
    assert {n["type"] for n in ns} == {"pid", "ipc", "uts", "mount", "network"}
    assert {"type": "network", "path": "/run/netns/pyk8s-abc"} in ns
    assert s["linux"]["cgroupsPath"] == "/pyk8s/n1/podu1/cid"
    assert s["linux"]["maskedPaths"] == MASKED_PATHS and s["linux"]["readonlyPaths"] == READONLY_PATHS
    assert s["linux"]["resources"] == {"devices": [{"allow": False, "access": "rwm"}]}
    by_dest = {m["destination"]: m for m in s["mounts"]}
    for dest in ("/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"):
        assert dest in by_dest
    assert "ro" in by_dest["/sys"]["options"] and "ro" in by_dest["/sys/fs/cgroup"]["options"]
    assert by_dest["/etc/hosts"]["source"] == "/p/hosts" and by_dest["/etc/hostname"]["source"] == "/p/hostname"
    assert by_dest["/etc/resolv.conf"]["source"] == "/p/resolv.conf"
    assert by_dest["/dev/termination-log"] == {"destination": "/dev/termination-log", "type": "bind",
                                               "source": "/c/termination-log", "options": ["rbind", "rprivate", "rw"]}


def test_working_dir_user_env_and_tty() -> None:
    s = spec(cfg(working_dir="/w", envs=[("A", "c")], tty=True), image=ImageConfig(cmd=["sh"], user="www"))
    assert s["process"]["cwd"] == "/w" and s["process"]["terminal"] is True
    assert s["process"]["user"]["uid"] == 33
    assert "A=c" in s["process"]["env"]
    assert spec(cfg(), image=ImageConfig(cmd=["sh"]))["process"]["cwd"] == "/"


def test_resources_and_oom_score() -> None:
    s = spec(cfg(resources=LinuxContainerResources(cpu_shares=512, cpu_quota=50000, cpu_period=100000,
                                                   memory_limit_in_bytes=64 << 20, oom_score_adj=-997)))
    res = s["linux"]["resources"]
    assert res["cpu"] == {"shares": 512, "quota": 50000, "period": 100000}
    assert res["memory"] == {"limit": 64 << 20, "swap": 64 << 20}
    assert s["process"]["oomScoreAdj"] == -997
    assert spec(cfg(resources=LinuxContainerResources(cpu_quota=20000)))["linux"]["resources"]["cpu"] == {
        "quota": 20000, "period": 100000}


def test_security_context() -> None:
    sec = LinuxContainerSecurityContext(readonly_rootfs=True, no_new_privs=True, run_as_user=1000,
                                        add_capabilities=["NET_ADMIN"], drop_capabilities=["ALL"])
    s = spec(cfg(security=sec), pod_files=PodFiles(hosts="/p/hosts"))
    assert s["root"]["readonly"] is True and s["process"]["noNewPrivileges"] is True
    assert s["process"]["user"] == {"uid": 1000, "gid": 0}
    assert s["process"]["capabilities"]["bounding"] == ["CAP_NET_ADMIN"]
    hosts = next(m for m in s["mounts"] if m["destination"] == "/etc/hosts")
    assert "ro" in hosts["options"]


def test_privileged() -> None:
    s = spec(cfg(security=LinuxContainerSecurityContext(privileged=True)))
    assert s["process"]["capabilities"]["bounding"] == ALL_CAPABILITIES
    assert s["linux"]["maskedPaths"] == [] and s["linux"]["readonlyPaths"] == []
    assert s["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    by_dest = {m["destination"]: m for m in s["mounts"]}
    assert by_dest["/dev"]["source"] == "/dev" and by_dest["/dev"]["type"] == "bind"
    assert "ro" not in by_dest["/sys"]["options"]


def test_volume_mounts_sorted_and_user_mount_wins_over_pod_files() -> None:
    mounts = [Mount(container_path="/data/sub/", host_path="/h/sub", readonly=True),
              Mount(container_path="/data", host_path="/h/data", propagation="rslave"),
              Mount(container_path="/etc/hosts", host_path="/h/hosts")]
    s = spec(cfg(mounts=mounts), pod_files=PodFiles(hosts="/p/hosts"))
    binds = [m for m in s["mounts"] if m["type"] == "bind"]
    assert [m["destination"] for m in binds] == ["/data", "/data/sub", "/etc/hosts"]  # parents first, stable
    assert binds[0]["options"] == ["rbind", "rslave", "rw"]
    assert binds[1]["options"] == ["rbind", "rprivate", "ro"]
    assert binds[2]["source"] == "/h/hosts"


def test_custom_termination_path_and_host_network_and_sysctls() -> None:
    sandbox = PodSandboxConfig(metadata=SANDBOX.metadata, hostname="node1", log_directory="/l", host_network=True,
                               sysctls={"net.ipv4.ip_forward": "1"})
    s = build_spec(cfg(command=["x"]), sandbox, IMAGE, netns_path="", cgroups_path="/c",
                   termination_log="/t", termination_log_path="/tmp/msg")
    assert {n["type"] for n in s["linux"]["namespaces"]} == {"pid", "ipc", "mount"}
    assert "hostname" not in s
    assert s["linux"]["sysctl"] == {"net.ipv4.ip_forward": "1"}
    assert any(m["destination"] == "/tmp/msg" and m["source"] == "/t" for m in s["mounts"])
