"""A pod's network by the standard CNI plugins (loopback, bridge + host-local, portmap), run as child processes.

Two networks per pod, as containerd does: `lo` (the loopback plugin alone) and the pod network, a chain of
`bridge` (cni0, gateway .1 of the node's podCIDR, hairpin; host-local IPAM) followed by `portmap` when the pod
has hostPorts. The two networks are independent, so ADD runs them at once; DEL runs every plugin one after
another in the reverse order. The plugins inherit this process's network namespace, so cni0 and the iptables
rules land in the node's namespace (the kubelet runs inside it; `plugin_netns` runs them elsewhere with nsenter).

Masquerade is per node, not per pod (as kubenet and flannel do it): the bridge plugin's ipMasq would create and
delete an iptables chain and its rules for every pod (15 iptables runs per pod, ADD and DEL, doubling bridge's
CPU time). Instead, the first ADD for a podCIDR makes sure the node's nat table holds our chain POD_MASQ_CHAIN,
jumped to from POSTROUTING, with "from the podCIDR to multicast: RETURN" and "from the podCIDR to outside it:
MASQUERADE" (checked with -C before each -A, so kubelet restarts add nothing). Nothing removes it: it belongs to
the node, and lives and dies with the node's network namespace (for a kubelet in the root namespace, like any
CNI node's rules, until the next boot). A changed podCIDR gets its own two rules next to the old ones.

At most `max_concurrent` ADDs and DELs run at once; a burst of pods queues for a slot instead of starting a
few dozen plugin processes at the same time on a small machine.

What ADD was given and returned is cached on disk per sandbox: once before any plugin runs, with every
plugin counted as attempted, and once after they all succeeded, with their results. So DEL (with the cached
result as prevResult) works after a kubelet restart, a crash during ADD and a half-done ADD. Pods cached with
the bridge plugin's own ipMasq (older versions) still have their per-pod chain removed by DEL from the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Coroutine
from typing import Any

import orjson

from pyk8s.base import netns as netns_util
from pyk8s.kubelet.cri.interface import CRIError, PortMapping
from pyk8s.kubelet.cri.runc.seams import PodNetworkAttachment

PLUGIN_TIMEOUT = 60.0
MAX_CONCURRENT = 4
POD_MASQ_CHAIN = "PYK8S-POD-MASQ"
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def pod_masquerade_rules(pod_cidr: str) -> list[list[str]]:
    """The nat-table rules (iptables arguments after `-t nat -A`) that make pods' traffic leaving the pod network
    look like the node's, in the order they are installed: POD_MASQ_CHAIN's rules for `pod_cidr`, then the
    jump to it from POSTROUTING."""
    multicast = "ff00::/8" if ":" in pod_cidr else "224.0.0.0/4"
    return [
        [POD_MASQ_CHAIN, "-s", pod_cidr, "-d", multicast, "-m", "comment", "--comment",
         "pyk8s: pod multicast is not masqueraded", "-j", "RETURN"],
        [POD_MASQ_CHAIN, "-s", pod_cidr, "!", "-d", pod_cidr, "-m", "comment", "--comment",
         "pyk8s: masquerade pod traffic leaving the pod network", "-j", "MASQUERADE"],
        ["POSTROUTING", "-m", "comment", "--comment", "pyk8s: pod network masquerade", "-j", POD_MASQ_CHAIN],
    ]


class CNIPodNetwork:
    """seams.PodNetwork over CNI plugins found in `plugin_dir`."""

    def __init__(self, *, pod_cidr: Callable[[], str | None] | str | None, data_dir: str,
                 plugin_dir: str = "/usr/lib/cni", bridge: str = "cni0", network_name: str = "pyk8s",
                 mtu: int = 1500, cni_version: str = "1.0.0", plugin_netns: str | None = None,
                 timeout: float = PLUGIN_TIMEOUT, max_concurrent: int = MAX_CONCURRENT, masquerade: bool = True,
                 iptables: str = "iptables", ip6tables: str = "ip6tables") -> None:
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, not {max_concurrent}")
        self._pod_cidr = pod_cidr
        self.plugin_dir = plugin_dir
        self.data_dir = data_dir
        self.bridge = bridge
        self.network_name = network_name
        self.mtu = mtu
        self.cni_version = cni_version
        self.plugin_netns = plugin_netns
        self.timeout = timeout
        self.max_concurrent = max_concurrent
        self.masquerade = masquerade
        self.iptables = iptables
        self.ip6tables = ip6tables
        self._slots = asyncio.Semaphore(max_concurrent)
        self._masquerade_lock = asyncio.Lock()
        self._masqueraded: set[str] = set()  # pod CIDRs whose node rules are known to be in place

    # ---- configuration --------------------------------------------------------------------------------------

    @property
    def ipam_dir(self) -> str:
        """host-local's dataDir (one file per leased address under <network name>/)."""
        return os.path.join(self.data_dir, "ipam")

    @property
    def results_dir(self) -> str:
        return os.path.join(self.data_dir, "results")

    def pod_cidr(self) -> str | None:
        return self._pod_cidr() if callable(self._pod_cidr) else self._pod_cidr

    def networks(self, pod_cidr: str, port_mappings: list[PortMapping]) -> list[dict[str, Any]]:
        """The networks ADD runs: [{name, plugins: [plugin config without prevResult], result, added}]."""
        lo = {"cniVersion": self.cni_version, "name": "cni-loopback", "type": "loopback"}
        bridge: dict[str, Any] = {
            "cniVersion": self.cni_version, "name": self.network_name, "type": "bridge",
            "bridge": self.bridge, "isGateway": True, "ipMasq": False, "hairpinMode": True, "mtu": self.mtu,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": pod_cidr}]],
                     "routes": [{"dst": "0.0.0.0/0"}], "dataDir": self.ipam_dir},
        }
        plugins = [bridge]
        if port_mappings:
            plugins.append({
                "cniVersion": self.cni_version, "name": self.network_name, "type": "portmap",
                "capabilities": {"portMappings": True}, "snat": True,
                "runtimeConfig": {"portMappings": [
                    {"hostPort": p.host_port, "containerPort": p.container_port,
                     "protocol": (p.protocol or "TCP").lower(), **({"hostIP": p.host_ip} if p.host_ip else {})}
                    for p in port_mappings]},
            })
        return [{"name": "cni-loopback", "plugins": [lo], "result": None, "added": 0},
                {"name": self.network_name, "plugins": plugins, "result": None, "added": 0}]

    # ---- the cache --------------------------------------------------------------------------------------------

    def _cache_path(self, sandbox_id: str) -> str:
        return os.path.join(self.results_dir, f"{sandbox_id}.json")

    def _save(self, sandbox_id: str, state: dict[str, Any]) -> None:
        """Write the sandbox's cache file through a temp file and a rename (no fsync, as libcni's cache: it has to
        outlive this process, not the machine, whose reboot takes the namespaces with it)."""
        os.makedirs(self.results_dir, exist_ok=True)
        path = self._cache_path(sandbox_id)
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as f:
            f.write(orjson.dumps(state))
        os.replace(tmp, path)

    def _load(self, sandbox_id: str) -> dict[str, Any] | None:
        try:
            with open(self._cache_path(sandbox_id), "rb") as f:
                state: dict[str, Any] = orjson.loads(f.read())
        except FileNotFoundError:
            return None
        except ValueError:  # a crash leaves the old or the new file (rename); only a power loss (no fsync) can
            # leave a torn one: DEL then works from the sandbox's own record of the result
            return None
        if "added" in state:  # older caches counted the plugins attempted over all networks, in order
            left = int(state.pop("added"))
            for network in state["networks"]:
                network["added"] = min(left, len(network["plugins"]))
                left -= network["added"]
        return state

    def _forget(self, sandbox_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._cache_path(sandbox_id))

    # ---- running plugins ----------------------------------------------------------------------------------------

    def _env(self, command: str, sandbox_id: str, netns_path: str, namespace: str, name: str,
             uid: str) -> dict[str, str]:
        env = dict(os.environ)
        path = env.get("PATH", "")
        if "/usr/sbin" not in path.split(":"):  # portmap calls iptables from PATH
            path = f"{path}:{_SYSTEM_PATH}" if path else _SYSTEM_PATH
        env.update({
            "PATH": path,
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": sandbox_id,
            "CNI_NETNS": netns_path,
            "CNI_IFNAME": "eth0",
            "CNI_PATH": self.plugin_dir,
            "CNI_ARGS": (f"IgnoreUnknown=1;K8S_POD_NAMESPACE={namespace};K8S_POD_NAME={name};"
                         f"K8S_POD_INFRA_CONTAINER_ID={sandbox_id};K8S_POD_UID={uid}"),
        })
        return env

    async def _run(self, argv: list[str], stdin: bytes | None, env: dict[str, str] | None,
                   what: str) -> tuple[int, bytes, bytes]:
        """Run a program in the plugins' namespace: (exit status, stdout, stderr); CRIError if it cannot start or
        outlives the timeout."""
        if self.plugin_netns:
            argv = ["nsenter", f"--net={self.plugin_netns}", "--", *argv]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
        except OSError as e:
            raise CRIError(f"{what}: {e.strerror or e}") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), self.timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise CRIError(f"{what}: timed out after {self.timeout:g}s") from None
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        assert proc.returncode is not None
        return proc.returncode, out, err

    async def _exec(self, conf: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
        """Run one plugin; its JSON output, or CRIError with the plugin's own message."""
        what = f'plugin type="{conf["type"]}" failed ({env["CNI_COMMAND"].lower()})'
        rc, out, err = await self._run([os.path.join(self.plugin_dir, str(conf["type"]))],
                                       orjson.dumps(conf), env, what)
        parsed: Any = None
        if out.strip():
            try:
                parsed = orjson.loads(out)
            except ValueError:
                parsed = None
        if rc != 0:
            if isinstance(parsed, dict) and ("msg" in parsed or "code" in parsed):
                msg = str(parsed.get("msg") or f"error code {parsed.get('code')}")
                if parsed.get("details"):
                    msg = f"{msg}: {parsed['details']}"
            else:
                msg = (err or out).decode(errors="replace") or f"exit status {rc}"
            raise CRIError(_one_line(f"{what}: {msg}"))
        return parsed if isinstance(parsed, dict) else {}

    # ---- the node's masquerade rules ------------------------------------------------------------------------------

    async def _nat(self, binary: str, *args: str) -> tuple[int, str]:
        rc, out, err = await self._run([binary, "-w", "-t", "nat", *args], None, None,
                                       f"{binary} -t nat {' '.join(args[:2])}")
        return rc, _one_line((err or out).decode(errors="replace"))

    async def ensure_masquerade(self, pod_cidr: str) -> None:
        """Make sure the node masquerades traffic from `pod_cidr` to outside it (see the module docstring).
        Once per pod CIDR and process; idempotent across processes. Raises CRIError."""
        if pod_cidr in self._masqueraded:
            return
        async with self._masquerade_lock:
            if pod_cidr in self._masqueraded:
                return
            binary = self.ip6tables if ":" in pod_cidr else self.iptables
            rc, msg = await self._nat(binary, "-N", POD_MASQ_CHAIN)
            if rc != 0 and "exists" not in msg:
                raise CRIError(f"cannot create the nat chain {POD_MASQ_CHAIN}: {msg}")
            for rule in pod_masquerade_rules(pod_cidr):
                rc, msg = await self._nat(binary, "-C", *rule)
                if rc == 0:
                    continue
                rc, msg = await self._nat(binary, "-A", *rule)
                if rc != 0:
                    raise CRIError(f"cannot add the pod masquerade rule to {rule[0]}: {msg}")
            self._masqueraded.add(pod_cidr)

    # ---- PodNetwork ---------------------------------------------------------------------------------------------

    async def setup(self, *, sandbox_id: str, netns_path: str, namespace: str, name: str, uid: str,
                    port_mappings: list[PortMapping]) -> PodNetworkAttachment:
        pod_cidr = self.pod_cidr()
        if not pod_cidr:
            raise CRIError("network is not ready: the node has no podCIDR assigned yet")
        async with self._slots:
            try:
                return await self._add(pod_cidr, sandbox_id, netns_path, namespace, name, uid, port_mappings)
            except CRIError as e:
                raise CRIError(f'failed to set up network for sandbox "{sandbox_id}": {e}') from None

    async def _add(self, pod_cidr: str, sandbox_id: str, netns_path: str, namespace: str, name: str, uid: str,
                   port_mappings: list[PortMapping]) -> PodNetworkAttachment:
        if self.masquerade:
            await self.ensure_masquerade(pod_cidr)
        networks = self.networks(pod_cidr, port_mappings)
        # Before any plugin runs: everything counts as attempted, so whatever happens to this process
        # from here on, DEL has the full list to undo (DEL of a plugin that never ran is harmless).
        self._save(sandbox_id, {"netns": netns_path, "networks": [
            {**n, "added": len(n["plugins"])} for n in networks]})
        state: dict[str, Any] = {"netns": netns_path, "networks": networks}  # what really ran
        env = self._env("ADD", sandbox_id, netns_path, namespace, name, uid)
        try:
            await _all_of([self._add_network(network, env) for network in networks])
            self._save(sandbox_id, state)
            return _attachment(networks[-1]["result"] or {})
        except BaseException:
            with contextlib.suppress(Exception):
                await self._delete(sandbox_id, state, netns_path, namespace, name, uid)
            raise

    async def _add_network(self, network: dict[str, Any], env: dict[str, str]) -> None:
        prev: dict[str, Any] | None = None
        for conf in network["plugins"]:
            network["added"] += 1
            prev = await self._exec({**conf, "prevResult": prev} if prev is not None else conf, env)
        network["result"] = prev

    async def teardown(self, *, sandbox_id: str, netns_path: str, namespace: str, name: str, uid: str,
                       port_mappings: list[PortMapping], attachment: PodNetworkAttachment | None) -> None:
        async with self._slots:
            state = self._load(sandbox_id)
            if state is None:
                if attachment is None or not attachment.result:
                    return  # never set up, or already torn down
                pod_cidr = self.pod_cidr()
                if not pod_cidr:
                    return
                networks = self.networks(pod_cidr, port_mappings)
                networks[-1]["result"] = attachment.result
                for network in networks:
                    network["added"] = len(network["plugins"])
                state = {"netns": netns_path, "networks": networks}
            await self._delete(sandbox_id, state, netns_path, namespace, name, uid)

    async def _delete(self, sandbox_id: str, state: dict[str, Any], netns_path: str, namespace: str, name: str,
                      uid: str) -> None:
        """DEL every plugin the state counts as added, last first, then forget the sandbox."""
        # a gone namespace is passed as "": the plugins then only free what lives outside it (address, rules)
        env = self._env("DEL", sandbox_id, netns_path if netns_util.is_netns(netns_path) else "",
                        namespace, name, uid)
        attempted = [(conf, network.get("result")) for network in state["networks"]
                     for conf in network["plugins"][:int(network.get("added", 0))]]
        errors: list[CRIError] = []
        for conf, result in reversed(attempted):
            try:
                await self._exec({**conf, "prevResult": result} if result else conf, env)
            except CRIError as e:
                errors.append(e)
        if errors:
            raise CRIError(f'failed to tear down network of sandbox "{sandbox_id}": {errors[0]}')
        self._forget(sandbox_id)


async def _all_of(steps: list[Coroutine[Any, Any, None]]) -> None:
    """Run the steps at once and wait for all of them to finish (also when one fails); the first error wins."""
    if len(steps) == 1:
        await steps[0]
        return
    outcomes = await asyncio.gather(*steps, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def _attachment(result: dict[str, Any]) -> PodNetworkAttachment:
    ips: list[str] = []
    gateway = ""
    for entry in result.get("ips") or []:
        address = str(entry.get("address", "")).split("/")[0]
        if not address:
            continue
        if not ips or (":" not in address and ":" in ips[0]):  # prefer IPv4 as the primary address
            ips.insert(0, address)
            gateway = str(entry.get("gateway", "")) or gateway
        else:
            ips.append(address)
    if not ips:
        raise CRIError("the CNI result has no IP address")
    return PodNetworkAttachment(ip=ips[0], gateway=gateway, additional_ips=ips[1:], result=result)
