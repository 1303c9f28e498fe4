"""A pod's network by the standard CNI plugins (loopback, bridge + host-local, portmap), run as child processes.

Two networks per pod, as containerd does: `lo` (the loopback plugin alone) and the pod network, a chain of
`bridge` (cni0, gateway .1 of the node's podCIDR, masquerade, hairpin; host-local IPAM) followed by `portmap`
when the pod has hostPorts. The plugins inherit this process's network namespace, so cni0 and the iptables
rules land in the node's namespace (the kubelet runs inside it; `plugin_netns` runs them elsewhere with nsenter).

What ADD was given and returned is cached on disk per sandbox before and after each plugin runs, so DEL (in
reverse order, with the cached result as prevResult) works after a kubelet restart and after a half-done ADD.
Caveat: the bridge plugin finds the masquerade rule to delete from the pod's interface address, so tear the
network down before unpinning the netns; after that, DEL still frees the address but the rule stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from typing import Any

from pyk8s.base import netns as netns_util
from pyk8s.kubelet.cri.interface import CRIError, PortMapping
from pyk8s.kubelet.cri.runc.seams import PodNetworkAttachment

PLUGIN_TIMEOUT = 60.0
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _one_line(text: str) -> str:
    return " ".join(text.split())


class CNIPodNetwork:
    """seams.PodNetwork over CNI plugins found in `plugin_dir`."""

    def __init__(self, *, pod_cidr: Callable[[], str | None] | str | None, data_dir: str,
                 plugin_dir: str = "/usr/lib/cni", bridge: str = "cni0", network_name: str = "pyk8s",
                 mtu: int = 1500, cni_version: str = "1.0.0", plugin_netns: str | None = None,
                 timeout: float = PLUGIN_TIMEOUT) -> None:
        self._pod_cidr = pod_cidr
        self.plugin_dir = plugin_dir
        self.data_dir = data_dir
        self.bridge = bridge
        self.network_name = network_name
        self.mtu = mtu
        self.cni_version = cni_version
        self.plugin_netns = plugin_netns
        self.timeout = timeout

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
        """The networks ADD runs, in order: [{name, plugins: [plugin config without prevResult]}]."""
        lo = {"cniVersion": self.cni_version, "name": "cni-loopback", "type": "loopback"}
        bridge: dict[str, Any] = {
            "cniVersion": self.cni_version, "name": self.network_name, "type": "bridge",
            "bridge": self.bridge, "isGateway": True, "ipMasq": True, "hairpinMode": True, "mtu": self.mtu,
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
        return [{"name": "cni-loopback", "plugins": [lo], "result": None},
                {"name": self.network_name, "plugins": plugins, "result": None}]

    # ---- the cache --------------------------------------------------------------------------------------------

    def _cache_path(self, sandbox_id: str) -> str:
        return os.path.join(self.results_dir, f"{sandbox_id}.json")

    def _save(self, sandbox_id: str, state: dict[str, Any]) -> None:
        os.makedirs(self.results_dir, exist_ok=True)
        path = self._cache_path(sandbox_id)
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _load(self, sandbox_id: str) -> dict[str, Any] | None:
        try:
            with open(self._cache_path(sandbox_id)) as f:
                state: dict[str, Any] = json.load(f)
                return state
        except FileNotFoundError:
            return None
        except ValueError:  # a torn write cannot happen (rename), but never let a bad file block DEL forever
            return None

    def _forget(self, sandbox_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._cache_path(sandbox_id))

    # ---- running plugins ----------------------------------------------------------------------------------------

    def _env(self, command: str, sandbox_id: str, netns_path: str, namespace: str, name: str,
             uid: str) -> dict[str, str]:
        env = dict(os.environ)
        path = env.get("PATH", "")
        if "/usr/sbin" not in path.split(":"):  # portmap and ipMasq call iptables from PATH
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

    async def _exec(self, conf: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
        """Run one plugin; its JSON output, or CRIError with the plugin's own message."""
        plugin = os.path.join(self.plugin_dir, str(conf["type"]))
        argv = [plugin]
        if self.plugin_netns:
            argv = ["nsenter", f"--net={self.plugin_netns}", "--", plugin]
        what = f'plugin type="{conf["type"]}" failed ({env["CNI_COMMAND"].lower()})'
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=env)
        except OSError as e:
            raise CRIError(f"{what}: {e.strerror or e}") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(json.dumps(conf).encode()), self.timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise CRIError(f"{what}: timed out after {self.timeout:g}s") from None
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        parsed: Any = None
        if out.strip():
            try:
                parsed = json.loads(out)
            except ValueError:
                parsed = None
        if proc.returncode != 0:
            if isinstance(parsed, dict) and ("msg" in parsed or "code" in parsed):
                msg = str(parsed.get("msg") or f"error code {parsed.get('code')}")
                if parsed.get("details"):
                    msg = f"{msg}: {parsed['details']}"
            else:
                msg = (err or out).decode(errors="replace") or f"exit status {proc.returncode}"
            raise CRIError(_one_line(f"{what}: {msg}"))
        return parsed if isinstance(parsed, dict) else {}

    # ---- PodNetwork ---------------------------------------------------------------------------------------------

    async def setup(self, *, sandbox_id: str, netns_path: str, namespace: str, name: str, uid: str,
                    port_mappings: list[PortMapping]) -> PodNetworkAttachment:
        pod_cidr = self.pod_cidr()
        if not pod_cidr:
            raise CRIError("network is not ready: the node has no podCIDR assigned yet")
        networks = self.networks(pod_cidr, port_mappings)
        state: dict[str, Any] = {"netns": netns_path, "networks": networks, "added": 0}
        env = self._env("ADD", sandbox_id, netns_path, namespace, name, uid)
        try:
            for network in networks:
                prev: dict[str, Any] | None = None
                for conf in network["plugins"]:
                    # record the attempt first: a crash while the plugin runs still leaves DEL something to undo
                    state["added"] += 1
                    self._save(sandbox_id, state)
                    prev = await self._exec({**conf, "prevResult": prev} if prev is not None else conf, env)
                network["result"] = prev
                self._save(sandbox_id, state)
            return _attachment(networks[-1]["result"] or {})
        except BaseException as e:
            with contextlib.suppress(Exception):
                await self.teardown(sandbox_id=sandbox_id, netns_path=netns_path, namespace=namespace, name=name,
                                    uid=uid, port_mappings=port_mappings, attachment=None)
            if isinstance(e, CRIError):
                raise CRIError(f'failed to set up network for sandbox "{sandbox_id}": {e}') from None
            raise

    async def teardown(self, *, sandbox_id: str, netns_path: str, namespace: str, name: str, uid: str,
                       port_mappings: list[PortMapping], attachment: PodNetworkAttachment | None) -> None:
        state = self._load(sandbox_id)
        if state is None:
            if attachment is None or not attachment.result:
                return  # never set up, or already torn down
            pod_cidr = self.pod_cidr()
            if not pod_cidr:
                return
            networks = self.networks(pod_cidr, port_mappings)
            networks[-1]["result"] = attachment.result
            state = {"netns": netns_path, "networks": networks,
                     "added": sum(len(n["plugins"]) for n in networks)}
        # a gone namespace is passed as "": the plugins then only free what lives outside it (address, rules)
        env = self._env("DEL", sandbox_id, netns_path if netns_util.is_netns(netns_path) else "",
                        namespace, name, uid)
        attempted: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        left = int(state.get("added", 0))
        for network in state["networks"]:
            for conf in network["plugins"]:
                if left <= 0:
                    break
                left -= 1
                attempted.append((conf, network.get("result")))
        errors: list[CRIError] = []
        for conf, result in reversed(attempted):
            try:
                await self._exec({**conf, "prevResult": result} if result else conf, env)
            except CRIError as e:
                errors.append(e)
        if errors:
            raise CRIError(f'failed to tear down network of sandbox "{sandbox_id}": {errors[0]}')
        self._forget(sandbox_id)


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
