"""Pod -> CRI configs: DNS, hostname, ports, QoS and cgroups, resources, OOM scores, security, mounts, metadata."""

from __future__ import annotations

import os
from typing import Any

import pytest

from pyk8s.kubelet import podspec
from pyk8s.kubelet.cri.interface import (
    ANNOTATION_CONTAINER_HASH,
    ANNOTATION_RESTART_COUNT,
    ANNOTATION_TERMINATION_GRACE,
    ANNOTATION_TERMINATION_MESSAGE_PATH,
    LABEL_CONTAINER_NAME,
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    DNSConfig,
    Mount,
    PortMapping,
)
from pyk8s.kubelet.envvars import CreateContainerConfigError

Obj = dict[str, Any]
GI = 1024**3


def make_pod(*containers: Obj, name: str = "web", **spec: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns", "uid": "u-1", "labels": {"app": "web"},
                         "annotations": {"a": "b"}},
            "spec": {"containers": list(containers) or [{"name": "c", "image": "busybox"}], **spec}}


def res(requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    out: Obj = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def ctr(name: str = "c", **kw: Any) -> Obj:
    return {"name": name, "image": "busybox", **kw}


def sandbox(pod: Obj, **kw: Any) -> Any:
    args: dict[str, Any] = {"pod_log_root": "/var/log/pods", "cluster_dns": ["10.96.0.10"],
                            "cluster_domain": "cluster.local", "attempt": 0, "cgroup_parent": "kubepods/podu-1"}
    args.update(kw)
    return podspec.sandbox_config(pod, **args)


# ------------------------------------------------------------------------------------------------ DNS

CLUSTER_SEARCH = ["ns.svc.cluster.local", "svc.cluster.local", "cluster.local"]
HOST = DNSConfig(servers=["192.168.1.1"], searches=["corp.example"], options=["edns0"])


@pytest.mark.parametrize("spec,resolver,want", [
    ({}, None, DNSConfig(["10.96.0.10"], CLUSTER_SEARCH, ["ndots:5"])),
    ({"dnsPolicy": "ClusterFirst"}, HOST, DNSConfig(["10.96.0.10"], [*CLUSTER_SEARCH, "corp.example"], ["ndots:5"])),
    ({"dnsPolicy": "ClusterFirst", "hostNetwork": True}, None, DNSConfig()),
    ({"dnsPolicy": "ClusterFirst", "hostNetwork": True}, HOST, HOST),
    ({"dnsPolicy": "ClusterFirstWithHostNet", "hostNetwork": True}, None,
     DNSConfig(["10.96.0.10"], CLUSTER_SEARCH, ["ndots:5"])),
    ({"dnsPolicy": "Default"}, None, DNSConfig()),
    ({"dnsPolicy": "Default"}, HOST, HOST),
    ({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["a.b"],
                                         "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}},
     None, DNSConfig(["1.1.1.1"], ["a.b"], ["ndots:2", "edns0"])),
    ({"dnsConfig": {"nameservers": ["10.96.0.10", "1.1.1.1"], "searches": ["cluster.local", "x.y"],
                    "options": [{"name": "ndots", "value": "1"}, {"name": "single-request"}]}},
     None, DNSConfig(["10.96.0.10", "1.1.1.1"], [*CLUSTER_SEARCH, "x.y"], ["ndots:1", "single-request"])),
    ({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"]}},
     None, DNSConfig(["1.1.1.1", "1.1.1.2", "1.1.1.3"], [], [])),
])
def test_dns_policies(spec: Obj, resolver: DNSConfig | None, want: DNSConfig) -> None:
    got = podspec.pod_dns(make_pod(**spec), cluster_dns=["10.96.0.10"], cluster_domain="cluster.local",
                          resolver=resolver)
    assert got == want


def test_cluster_first_without_cluster_dns_falls_back_to_default() -> None:
    got = podspec.pod_dns(make_pod(), cluster_dns=[], cluster_domain="cluster.local", resolver=HOST)
    assert got == HOST


def test_search_list_limits() -> None:
    searches = [f"s{i}.example" for i in range(40)]
    got = podspec.pod_dns(make_pod(dnsPolicy="None", dnsConfig={"searches": searches}), cluster_dns=[],
                          cluster_domain="")
    assert got.searches == searches[:32]


# ------------------------------------------------------------------------------------------------ hostname

@pytest.mark.parametrize("name,spec,want_host,want_domain", [
    ("web", {}, "web", ""),
    ("web", {"hostname": "h"}, "h", ""),
    ("web", {"hostname": "h", "subdomain": "sub"}, "h", "sub.ns.svc.cluster.local"),
    ("x" * 62 + "-abc", {}, "x" * 62, ""),
    ("a" * 70, {}, "a" * 63, ""),
])
def test_hostname_and_domain(name: str, spec: Obj, want_host: str, want_domain: str) -> None:
    assert podspec.pod_hostname_and_domain(make_pod(name=name, **spec), "cluster.local") == (want_host, want_domain)


def test_sandbox_hostname_fqdn_and_host_network() -> None:
    assert sandbox(make_pod(hostname="h", subdomain="s", setHostnameAsFQDN=True)).hostname == \
        "h.s.ns.svc.cluster.local"
    assert sandbox(make_pod(hostNetwork=True)).hostname == ""
    with pytest.raises(CreateContainerConfigError, match=r"FQDN .* is too long"):
        sandbox(make_pod(hostname="h" * 60, subdomain="s", setHostnameAsFQDN=True))


# ------------------------------------------------------------------------------------------------ sandbox fields

def test_sandbox_metadata_labels_log_dir_and_sysctls() -> None:
    pod = make_pod(securityContext={"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]})
    cfg = sandbox(pod, attempt=2, cgroup_parent="kubepods/besteffort/podu-1")
    assert (cfg.metadata.name, cfg.metadata.namespace, cfg.metadata.uid, cfg.metadata.attempt) == \
        ("web", "ns", "u-1", 2)
    assert cfg.log_directory == "/var/log/pods/ns_web_u-1"
    assert cfg.labels == {"app": "web", LABEL_POD_NAME: "web", LABEL_POD_NAMESPACE: "ns", LABEL_POD_UID: "u-1"}
    assert cfg.annotations == {"a": "b"}
    assert cfg.cgroup_parent == "kubepods/besteffort/podu-1"
    assert cfg.sysctls == {"net.ipv4.ip_unprivileged_port_start": "0"}
    assert cfg.host_network is False


def test_port_mappings_only_host_ports() -> None:
    pod = make_pod(
        ctr("a", ports=[{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81},
                        {"name": "dns", "containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "1.2.3.4"},
                        {"name": "dns", "containerPort": 54, "hostPort": 54}]),
        ctr("b", ports=[{"containerPort": 9000, "hostPort": 9000, "protocol": "SCTP"}]))
    assert sandbox(pod).port_mappings == [
        PortMapping(80, 8080, "TCP", ""), PortMapping(53, 53, "UDP", "1.2.3.4"), PortMapping(9000, 9000, "SCTP", "")]


# ------------------------------------------------------------------------------------------------ QoS / cgroups

@pytest.mark.parametrize("containers,status,want", [
    ([ctr()], None, "BestEffort"),
    ([ctr(resources=res(limits={"cpu": "1", "memory": "1Gi"}))], None, "Guaranteed"),
    ([ctr(resources=res({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}))], None, "Guaranteed"),
    ([ctr(resources=res({"cpu": "500m", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}))], None, "Burstable"),
    ([ctr(resources=res({"cpu": "100m"}))], None, "Burstable"),
    ([ctr(resources=res(limits={"cpu": "1", "memory": "1Gi"})), ctr("d")], None, "Burstable"),
    ([ctr(resources=res({"ephemeral-storage": "1Gi"}))], None, "BestEffort"),
    ([ctr()], "Burstable", "Burstable"),
])
def test_qos_class(containers: list[Obj], status: str | None, want: str) -> None:
    pod = make_pod(*containers)
    if status:
        pod["status"] = {"qosClass": status}
    assert podspec.qos_class(pod) == want


@pytest.mark.parametrize("containers,want", [
    ([ctr()], "kubepods/besteffort/podu-1"),
    ([ctr(resources=res({"cpu": "1"}))], "kubepods/burstable/podu-1"),
    ([ctr(resources=res(limits={"cpu": "1", "memory": "1Gi"}))], "kubepods/podu-1"),
])
def test_pod_cgroup_parent(containers: list[Obj], want: str) -> None:
    assert podspec.pod_cgroup_parent(make_pod(*containers)) == want


def test_pod_level_resources() -> None:
    guaranteed = make_pod(ctr("a", resources=res(limits={"cpu": "500m", "memory": "1Gi"})),
                          ctr("b", resources=res(limits={"cpu": "250m", "memory": "1Gi"})),
                          initContainers=[ctr("i", resources=res(limits={"cpu": "2", "memory": "128Mi"}))])
    cfg = sandbox(guaranteed)
    assert (cfg.cpu_shares, cfg.cpu_quota, cfg.cpu_period, cfg.memory_limit_in_bytes) == \
        (2048, 200000, 100000, 2 * GI)
    burstable = make_pod(ctr("a", resources=res({"cpu": "100m"}, {"memory": "64Mi"})), ctr("b"))
    cfg = sandbox(burstable)
    assert (cfg.cpu_shares, cfg.cpu_quota, cfg.memory_limit_in_bytes) == (102, 0, 0)
    burstable_limited = make_pod(ctr("a", resources=res({"cpu": "100m", "memory": "10Mi"},
                                                        {"cpu": "1", "memory": "64Mi"})))
    cfg = sandbox(burstable_limited)
    assert (cfg.cpu_shares, cfg.cpu_quota, cfg.memory_limit_in_bytes) == (102, 100000, 64 * 1024**2)
    cfg = sandbox(make_pod())
    assert (cfg.cpu_shares, cfg.cpu_quota, cfg.memory_limit_in_bytes) == (2, 0, 0)


# ------------------------------------------------------------------------------------------------ resources / OOM

@pytest.mark.parametrize("resources,shares,quota,period,memory", [
    ({}, 2, 0, 0, 0),
    (res({"cpu": "100m"}), 102, 0, 0, 0),
    (res({"cpu": "1m"}), 2, 0, 0, 0),
    (res(limits={"cpu": "250m"}), 256, 25000, 100000, 0),
    (res({"cpu": "100m"}, {"cpu": "2"}), 102, 200000, 100000, 0),
    (res(limits={"cpu": "5m"}), 5, 1000, 100000, 0),
    (res(limits={"cpu": "500", "memory": "128Mi"}), 262144, 50000000, 100000, 128 * 1024**2),
])
def test_container_resources(resources: Obj, shares: int, quota: int, period: int, memory: int) -> None:
    c = ctr(resources=resources)
    r = podspec.container_resources(make_pod(c), c, memory_capacity=8 * GI)
    assert (r.cpu_shares, r.cpu_quota, r.cpu_period, r.memory_limit_in_bytes) == (shares, quota, period, memory)


@pytest.mark.parametrize("containers,index,want", [
    ([ctr(resources=res(limits={"cpu": "1", "memory": "1Gi"}))], 0, -997),
    ([ctr()], 0, 1000),
    ([ctr(resources=res({"memory": "1Gi"}))], 0, 875),
    ([ctr(resources=res({"cpu": "1"}))], 0, 999),
    ([ctr(resources=res({"memory": "8Gi"}))], 0, 3),
    ([ctr(resources=res({"memory": "7.99Gi"}))], 0, 3),
    ([ctr(resources=res({"memory": "1Gi"})), ctr("d")], 1, 999),
])
def test_oom_score_adj(containers: list[Obj], index: int, want: int) -> None:
    pod = make_pod(*containers)
    assert podspec.oom_score_adj(pod, containers[index], 8 * GI) == want


def test_node_critical_pod_is_guaranteed_oom() -> None:
    pod = make_pod(priority=2000001000, priorityClassName="system-node-critical")
    assert podspec.oom_score_adj(pod, pod["spec"]["containers"][0], 8 * GI) == -997


def test_node_memory_capacity_reads_meminfo(tmp_path: Any) -> None:
    f = tmp_path / "meminfo"
    f.write_text("MemTotal:       16384 kB\nMemFree: 1 kB\n")
    assert podspec.node_memory_capacity(str(f)) == 16384 * 1024


# ------------------------------------------------------------------------------------------------ security

def test_security_context_merge() -> None:
    pod = make_pod(securityContext={"runAsUser": 1000, "runAsGroup": 2000, "fsGroup": 3000,
                                    "supplementalGroups": [4000, 5000]})
    c = ctr(securityContext={"runAsUser": 1001, "readOnlyRootFilesystem": True, "privileged": True,
                             "allowPrivilegeEscalation": False,
                             "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}})
    sc = podspec.security_context(pod, c)
    assert (sc.run_as_user, sc.run_as_group) == (1001, 2000)
    assert sc.supplemental_groups == [3000, 4000, 5000]
    assert sc.readonly_rootfs and sc.privileged and sc.no_new_privs
    assert (sc.add_capabilities, sc.drop_capabilities) == (["NET_ADMIN"], ["ALL"])


@pytest.mark.parametrize("container_sc,no_new_privs", [({}, False), ({"allowPrivilegeEscalation": True}, False),
                                                       ({"allowPrivilegeEscalation": False}, True)])
def test_no_new_privs(container_sc: Obj, no_new_privs: bool) -> None:
    c = ctr(securityContext=container_sc)
    sc = podspec.security_context(make_pod(c), c)
    assert sc.no_new_privs is no_new_privs
    assert sc.run_as_user is None and sc.supplemental_groups == []


# ------------------------------------------------------------------------------------------------ container config

async def config(pod: Obj, c: Obj, tmp_path: Any, **kw: Any) -> Any:
    args: dict[str, Any] = {"restart_count": 3, "image_ref": "sha256:abc", "volume_paths": {}, "env": [],
                            "pod_dir": str(tmp_path / "pod"), "memory_capacity": 8 * GI}
    args.update(kw)
    return await podspec.container_config(pod, c, **args)


async def test_container_config_basics(tmp_path: Any) -> None:
    c = ctr("app", command=["sh", "-c", "echo $(GREETING) $$(GREETING) $(NOPE)"], args=["$(WHO)"],
            workingDir="/work", stdin=True, stdinOnce=True, tty=True)
    pod = make_pod(c, terminationGracePeriodSeconds=45)
    cfg = await config(pod, c, tmp_path, env=[("GREETING", "hi"), ("WHO", "me")])
    assert (cfg.metadata.name, cfg.metadata.attempt, cfg.image) == ("app", 3, "sha256:abc")
    assert cfg.command == ["sh", "-c", "echo hi $(GREETING) $(NOPE)"]
    assert cfg.args == ["me"]
    assert cfg.working_dir == "/work"
    assert cfg.envs == [("GREETING", "hi"), ("WHO", "me")]
    assert (cfg.stdin, cfg.stdin_once, cfg.tty) == (True, True, True)
    assert cfg.log_path == "app/3.log"
    assert cfg.labels == {LABEL_POD_NAME: "web", LABEL_POD_NAMESPACE: "ns", LABEL_POD_UID: "u-1",
                          LABEL_CONTAINER_NAME: "app"}
    assert cfg.annotations[ANNOTATION_CONTAINER_HASH] == podspec.container_hash(c)
    assert cfg.annotations[ANNOTATION_RESTART_COUNT] == "3"
    assert cfg.annotations[ANNOTATION_TERMINATION_GRACE] == "45"
    assert cfg.annotations[ANNOTATION_TERMINATION_MESSAGE_PATH] == "/dev/termination-log"
    assert cfg.resources.oom_score_adj == 1000


async def test_termination_message_file_and_hosts(tmp_path: Any) -> None:
    c = ctr("app", terminationMessagePath="/tmp/msg")
    pod = make_pod(c, hostname="h", subdomain="sub",
                   hostAliases=[{"ip": "1.2.3.4", "hostnames": ["foo", "bar"]}])
    cfg = await config(pod, c, tmp_path, pod_ip="10.0.0.7", cluster_domain="cluster.local")
    pod_dir = tmp_path / "pod"
    assert cfg.mounts == [Mount("/etc/hosts", str(pod_dir / "etc-hosts")),
                          Mount("/tmp/msg", str(pod_dir / "containers" / "app" / "3"))]
    assert (pod_dir / "containers" / "app" / "3").stat().st_mode & 0o777 == 0o666
    hosts = (pod_dir / "etc-hosts").read_text()
    assert hosts.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert "10.0.0.7\th.sub.ns.svc.cluster.local\th\n" in hosts
    assert hosts.endswith("# Entries added by HostAliases.\n1.2.3.4\tfoo\tbar\n")


@pytest.mark.parametrize("pod_ip,spec,hosts", [("", {}, False), ("10.0.0.7", {"hostNetwork": True}, False),
                                               ("10.0.0.7", {}, True)])
async def test_hosts_file_only_with_pod_ip_and_pod_network(tmp_path: Any, pod_ip: str, spec: Obj,
                                                           hosts: bool) -> None:
    c = ctr("app", terminationMessagePath="")
    cfg = await config(make_pod(c, **spec), c, tmp_path, pod_ip=pod_ip)
    assert [m.container_path for m in cfg.mounts] == (["/etc/hosts"] if hosts else [])


async def test_hosts_file_not_mounted_over_users_own(tmp_path: Any) -> None:
    vol = tmp_path / "v"
    vol.mkdir()
    c = ctr("app", terminationMessagePath="", volumeMounts=[{"name": "v", "mountPath": "/etc/hosts"}])
    cfg = await config(make_pod(c), c, tmp_path, pod_ip="10.0.0.7", volume_paths={"v": str(vol)})
    assert [m.container_path for m in cfg.mounts] == ["/etc/hosts"]
    assert cfg.mounts[0].host_path == str(vol)


async def test_volume_mounts(tmp_path: Any) -> None:
    data, cm = tmp_path / "data", tmp_path / "cm"
    data.mkdir()
    cm.mkdir()
    c = ctr("app", terminationMessagePath="", volumeMounts=[
        {"name": "data", "mountPath": "/data"},
        {"name": "data", "mountPath": "/sub", "subPath": "a/b", "readOnly": True},
        {"name": "data", "mountPath": "/expr", "subPathExpr": "logs/$(POD)"},
        {"name": "data", "mountPath": "/h2c", "mountPropagation": "HostToContainer"},
        {"name": "data", "mountPath": "/bi", "mountPropagation": "Bidirectional"},
        {"name": "data", "mountPath": "/none", "mountPropagation": "None"},
        {"name": "cm", "mountPath": "/cfg"},
    ])
    pod = make_pod(c, volumes=[{"name": "data", "emptyDir": {}}, {"name": "cm", "configMap": {"name": "x"}}])
    cfg = await config(pod, c, tmp_path, volume_paths={"data": str(data), "cm": str(cm)}, env=[("POD", "web")])
    assert cfg.mounts == [
        Mount("/data", str(data), False, "private"),
        Mount("/sub", str(data / "a/b"), True, "private"),
        Mount("/expr", str(data / "logs/web"), False, "private"),
        Mount("/h2c", str(data), False, "rslave"),
        Mount("/bi", str(data), False, "rshared"),
        Mount("/none", str(data), False, "private"),
        Mount("/cfg", str(cm), True, "private"),  # configMap volumes are always read-only
    ]
    assert (data / "a" / "b").is_dir() and (data / "logs" / "web").is_dir()


@pytest.mark.parametrize("mount,env,message", [
    ({"name": "missing", "mountPath": "/x"}, [], 'cannot find volume "missing" to mount into container "app"'),
    ({"name": "data", "mountPath": "/x", "subPath": "../etc"}, [], "must not contain '..'"),
    ({"name": "data", "mountPath": "/x", "subPath": "/etc"}, [], "must not be an absolute path"),
    ({"name": "data", "mountPath": "/x", "subPathExpr": "$(NOPE)"}, [], "missing value for NOPE"),
    ({"name": "data", "mountPath": "/x", "subPath": "escape/x"}, [],
     'failed to prepare subPath for volumeMount "data" of container "app"'),
])
async def test_volume_mount_errors(tmp_path: Any, mount: Obj, env: list[tuple[str, str]], message: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.symlink("/", data / "escape")
    c = ctr("app", volumeMounts=[mount])
    with pytest.raises(CreateContainerConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await config(make_pod(c), c, tmp_path, volume_paths={"data": str(data)}, env=env)


async def test_sub_path_through_a_planted_symlink_creates_nothing_outside(tmp_path: Any) -> None:
    data, outside = tmp_path / "data", tmp_path / "outside"
    data.mkdir()
    outside.mkdir()
    os.symlink(str(outside), data / "esc")  # what a container could plant in its emptyDir
    c = ctr("app", volumeMounts=[{"name": "data", "mountPath": "/x", "subPath": "esc/new"}])
    with pytest.raises(CreateContainerConfigError, match="failed to prepare subPath"):
        await config(make_pod(c), c, tmp_path, volume_paths={"data": str(data)}, env=[])
    assert os.listdir(outside) == []


def test_container_hash_is_stable_and_ignores_resources() -> None:
    a = {"name": "c", "image": "busybox", "args": ["1"], "resources": {"limits": {"cpu": "1"}}}
    b = {"resources": {"limits": {"cpu": "2"}}, "args": ["1"], "image": "busybox", "name": "c"}
    assert podspec.container_hash(a) == podspec.container_hash(b)
    assert podspec.container_hash(a) != podspec.container_hash({**a, "image": "busybox:2"})
    assert all(ch in "0123456789abcdef" for ch in podspec.container_hash(a))
