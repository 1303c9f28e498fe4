"""RuncRuntime: the CRI RuntimeService on runc, with one shim per container and no pause container.

A sandbox is a pinned network namespace (set up by the PodNetwork), the pod's /etc files and its cgroup. A
container is a bundle dir (config.json + an overlay rootfs) whose `runc create` is run by its shim
(shim.py), which keeps the stdio, writes the CRI log and the exit status. Everything the runtime knows is
persisted as JSON under state_dir, so a new RuncRuntime over the same dirs (a restarted kubelet) sees the same
sandboxes and containers with the same ids, labels, annotations and exit codes: that is adoption.

Shims are forked by a zygote (zygote.py) the runtime starts on its first container create; if it cannot be
started or fails, shims are exec'd as `python -S -m pyk8s.kubelet.cri.runc.shim`. Statuses are listed often
(the PLEG, every pod sync), so they come from memory: a status object is kept per sandbox and container and
rebuilt only when it changed (callers get shallow copies); an exit is read once and kept, exit.json is looked
for with one access() call, and a shim's liveness (/proc/<pid>/cmdline) is checked at most every
SHIM_CHECK_PERIOD seconds per container (stop and wait paths check it afresh).

Layout: <state_dir>/sandboxes/<id>/{sandbox.json,hosts,hostname,resolv.conf},
<state_dir>/containers/<id>/{container.json,config.json,shim.json,rootfs,upper,work,exit.json,termination-log}.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import resource
import shutil
import signal as signal_mod
import socket
import struct
import sys
import tempfile
import termios
import time
import typing
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import orjson

from pyk8s.base import netns
from pyk8s.kubelet.cri import interface as cri
from pyk8s.kubelet.cri.interface import CRIError, NotFoundError
from pyk8s.kubelet.cri.runc import cgroups, rootfs, spec
from pyk8s.kubelet.cri.runc.runc import Runc
from pyk8s.kubelet.cri.runc.seams import ImageConfig, LayerStore, PodNetwork, PodNetworkAttachment
from pyk8s.kubelet.cri.runc.shim import EXIT, FRAME, RESIZE, STDERR, STDIN, STDIN_EOF, STDOUT, attach_socket_name
from pyk8s.kubelet.cri.runc.zygote import ZygoteClient, ZygoteError

log = logging.getLogger("pyk8s.kubelet.runtime")

_T = TypeVar("_T")

TERMINATION_MESSAGE_LIMIT = 4096
SHIM_START_TIMEOUT = 60.0
SHIM_MODULE = "pyk8s.kubelet.cri.runc.shim"
# A live shim is looked up in /proc at most this often per container by status listings; its exit shows at once.
SHIM_CHECK_PERIOD = 0.5


def _from_dict(cls: type[_T], data: Any) -> _T:
    """Rebuild a (nested) dataclass from `dataclasses.asdict` output."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


def _convert(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return _from_dict(tp, value)  # type: ignore[arg-type]
    if origin is list:
        (arg,) = typing.get_args(tp)
        return [_convert(arg, v) for v in value]
    if origin is tuple:
        return tuple(value)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        for arg in typing.get_args(tp):
            if dataclasses.is_dataclass(arg) and isinstance(value, dict):
                return _from_dict(arg, value)  # type: ignore[arg-type]
        return value
    return value


def _write_json(path: str, data: Any) -> None:
    """Write (dataclasses too) through a temp file and a rename, so a reader never sees half a file."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS))
    os.replace(tmp, path)


def _read_json(path: str) -> Any:
    with open(path, "rb") as f:
        return orjson.loads(f.read())


def _signal_name(sig: str) -> str:
    """"SIGTERM", "TERM" or "15" → the name runc kill takes."""
    sig = sig.strip().upper()
    if not sig:
        return "TERM"
    if sig.isdigit():
        return signal_mod.Signals(int(sig)).name[3:]
    return sig[3:] if sig.startswith("SIG") else sig


def _pid_is_shim(pid: int) -> bool:
    """Whether pid runs a shim: exec'd, or forked by the zygote (whose command line names the shim module)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return SHIM_MODULE.encode() in f.read()
    except OSError:
        return False


def _copy(obj: _T) -> _T:
    """A shallow copy of a plain dataclass (what copy.copy makes, a few times faster)."""
    new: _T = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    return new


def _read_pid_file(path: str) -> int:
    try:
        return int(_read_text(path).strip() or 0)
    except (OSError, ValueError):
        return 0


@dataclasses.dataclass
class _Sandbox:
    id: str
    config: cri.PodSandboxConfig
    created_at: int
    state: str
    netns_path: str
    cgroup_path: str
    attachment: PodNetworkAttachment | None = None
    files: dict[str, str] = dataclasses.field(default_factory=dict)
    network_torn_down: bool = False  # the PodNetwork's teardown succeeded once: later stops skip it


@dataclasses.dataclass
class _Container:
    id: str
    sandbox_id: str
    metadata: cri.ContainerMetadata
    image: str
    image_ref: str
    labels: dict[str, str]
    annotations: dict[str, str]
    log_path: str
    created_at: int
    cgroup_path: str
    stop_signal: str
    stdin: bool = False
    tty: bool = False
    started_at: int = 0
    shim_pid: int = 0
    removed: bool = False


def _sandbox_pod_uid(sb: _Sandbox) -> str:
    return sb.config.labels.get(cri.LABEL_POD_UID) or sb.config.metadata.uid


def _discard(index: dict[str, set[str]], key: str, item: str) -> None:
    ids = index.get(key)
    if ids is not None:
        ids.discard(item)
        if not ids:
            del index[key]


class RuncRuntime:
    """cri.RuntimeService on runc."""

    def __init__(self, *, state_dir: str, runc_root: str, cgroup_root: str, layers: LayerStore,
                 network: PodNetwork, netns_dir: str = "/run/netns", netns_prefix: str = "pyk8s-",
                 runc_binary: str = "runc",
                 python: str = sys.executable) -> None:
        self.state_dir = os.path.abspath(state_dir)
        self.cgroup_root = "/" + cgroup_root.strip("/")
        self.layers = layers
        self.network = network
        self.netns_dir = netns_dir
        self.netns_prefix = netns_prefix  # pod namespaces are <netns_dir>/<prefix><sandbox id[:12]>
        self.python = python
        self.runc = Runc(root=runc_root, log_dir=os.path.join(self.state_dir, "runc-logs"), binary=runc_binary)
        self.sandbox_dir = os.path.join(self.state_dir, "sandboxes")
        self.container_dir = os.path.join(self.state_dir, "containers")
        for d in (self.state_dir, self.sandbox_dir, self.container_dir):  # config.json holds secret env values
            os.makedirs(d, mode=0o700, exist_ok=True)
            os.chmod(d, 0o700)
        self._sandboxes: dict[str, _Sandbox] = {}
        self._containers: dict[str, _Container] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._oom_score_floor: int | None = None  # lowest oom_score_adj a container may get here (probed once)
        self._exits: dict[str, dict[str, Any]] = {}  # container id -> its exit.json, once seen (it never changes)
        self._shim_seen: dict[str, float] = {}  # container id -> when its shim was last found alive (monotonic)
        # container id -> ((started_at, exited, lost), its status); sandbox id -> its status (dropped on every save)
        self._statuses: dict[str, tuple[tuple[int, bool, bool], cri.ContainerStatus]] = {}
        self._sandbox_statuses: dict[str, cri.PodSandboxStatus] = {}
        self._zygote: ZygoteClient | None = None
        # pod uid (label, else the sandbox's metadata) -> ids of its sandboxes / containers
        self._pod_sandbox_ids: dict[str, set[str]] = {}
        self._pod_container_ids: dict[str, set[str]] = {}
        self._load()

    async def close(self) -> None:
        """Stop the shim zygote (running shims and containers stay). The runtime may still be used: shims are then
        exec'd."""
        if self._zygote is not None:
            await self._zygote.close()

    async def _oom_floor(self) -> int:
        """The lowest oom_score_adj a new process may take. Lowering it needs CAP_SYS_RESOURCE, which a sandboxed
        host may withhold; runc then fails the whole create, so Guaranteed pods (-997) are clamped to what the
        machine allows (our own value), as they could not be protected more than the kubelet itself."""
        if self._oom_score_floor is None:
            proc = await asyncio.create_subprocess_exec(
                "sh", "-c", "echo -999 > /proc/self/oom_score_adj", stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL)
            if await proc.wait() == 0:
                self._oom_score_floor = -1000
            else:
                with open("/proc/self/oom_score_adj") as f:
                    self._oom_score_floor = int(f.read().strip() or 0)
                log.info("oom_score_adj below %d is not permitted here; containers are clamped to it",
                         self._oom_score_floor)
        return self._oom_score_floor

    # --- persistence ------------------------------------------------------------------------------------

    def _load(self) -> None:
        for sid in os.listdir(self.sandbox_dir):
            path = os.path.join(self.sandbox_dir, sid, "sandbox.json")
            with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
                self._add_sandbox(_from_dict(_Sandbox, _read_json(path)))
        for cid in os.listdir(self.container_dir):
            path = os.path.join(self.container_dir, cid, "container.json")
            with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
                self._add_container(_from_dict(_Container, _read_json(path)))

    # --- the pod uid index (status listings of one pod, the PLEG's per-pod view) --------------------------------

    def _add_sandbox(self, sb: _Sandbox) -> None:
        self._sandboxes[sb.id] = sb
        self._pod_sandbox_ids.setdefault(_sandbox_pod_uid(sb), set()).add(sb.id)

    def _drop_sandbox(self, sb: _Sandbox) -> None:
        self._sandboxes.pop(sb.id, None)
        _discard(self._pod_sandbox_ids, _sandbox_pod_uid(sb), sb.id)

    def _add_container(self, c: _Container) -> None:
        self._containers[c.id] = c
        self._pod_container_ids.setdefault(c.labels.get(cri.LABEL_POD_UID, ""), set()).add(c.id)

    def _drop_container(self, c: _Container) -> None:
        self._containers.pop(c.id, None)
        _discard(self._pod_container_ids, c.labels.get(cri.LABEL_POD_UID, ""), c.id)

    def _save_sandbox(self, sb: _Sandbox) -> None:
        self._sandbox_statuses.pop(sb.id, None)
        _write_json(os.path.join(self.sandbox_dir, sb.id, "sandbox.json"), sb)

    def _save_container(self, c: _Container) -> None:
        _write_json(os.path.join(self.container_dir, c.id, "container.json"), c)

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def _sandbox(self, sandbox_id: str) -> _Sandbox:
        sb = self._sandboxes.get(sandbox_id)
        if sb is None:
            raise NotFoundError(f"pod sandbox {sandbox_id!r} not found")
        return sb

    def _container(self, container_id: str) -> _Container:
        c = self._containers.get(container_id)
        if c is None or c.removed:
            raise NotFoundError(f"container {container_id!r} not found")
        return c

    def _cdir(self, container_id: str) -> str:
        return os.path.join(self.container_dir, container_id)

    # --- version / sandboxes ----------------------------------------------------------------------------

    async def version(self) -> cri.RuntimeVersion:
        return cri.RuntimeVersion(runtime_name="runc", runtime_version=await self.runc.version())

    async def run_pod_sandbox(self, config: cri.PodSandboxConfig) -> str:
        sid = uuid.uuid4().hex + uuid.uuid4().hex
        sdir = os.path.join(self.sandbox_dir, sid)
        os.makedirs(sdir)
        md = config.metadata
        parent = config.cgroup_parent.strip("/") or f"pod{md.uid}"
        netns_path = "" if config.host_network else os.path.join(self.netns_dir, f"{self.netns_prefix}{sid[:12]}")
        sb = _Sandbox(id=sid, config=config, created_at=time.time_ns(), state="SANDBOX_NOTREADY",
                      netns_path=netns_path, cgroup_path=f"{self.cgroup_root}/{parent}")
        self._add_sandbox(sb)
        self._save_sandbox(sb)
        async with _undone_on_failure(lambda: self.remove_pod_sandbox(sid), "run pod sandbox"):
            if netns_path:
                await asyncio.to_thread(netns.pin_new_netns, netns_path)
                sb.attachment = await self.network.setup(
                    sandbox_id=sid, netns_path=netns_path, namespace=md.namespace, name=md.name, uid=md.uid,
                    port_mappings=config.port_mappings)
                self._save_sandbox(sb)
            ip = sb.attachment.ip if sb.attachment else ""
            sb.files = rootfs.write_sandbox_files(sdir, hostname=config.hostname, ip=ip, dns=config.dns)
            cgroups.ensure_pod_cgroup(sb.cgroup_path, cpu_shares=config.cpu_shares, cpu_quota=config.cpu_quota,
                                      cpu_period=config.cpu_period, memory_limit=config.memory_limit_in_bytes)
            if config.log_directory:
                os.makedirs(config.log_directory, exist_ok=True)
        sb.state = "SANDBOX_READY"
        self._save_sandbox(sb)
        return sid

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        sb = self._sandboxes.get(sandbox_id)
        if sb is None:
            return
        for c in [c for c in self._containers.values() if c.sandbox_id == sandbox_id and not c.removed]:
            await self.stop_container(c.id, 0)
        async with self._lock(sandbox_id):
            changed = sb.state != "SANDBOX_NOTREADY"
            if sb.netns_path and not sb.network_torn_down:
                # A namespace that is already gone (a reboot, someone removed it) is passed as "", as upstream
                # does: the plugins still free what lives outside it (the address, the cache, the rules).
                pinned = os.path.exists(sb.netns_path)
                md = sb.config.metadata
                await self.network.teardown(sandbox_id=sb.id, netns_path=sb.netns_path if pinned else "",
                                            namespace=md.namespace, name=md.name, uid=md.uid,
                                            port_mappings=sb.config.port_mappings, attachment=sb.attachment)
                sb.network_torn_down = changed = True
            if sb.netns_path and os.path.exists(sb.netns_path):
                await asyncio.to_thread(netns.unpin_netns, sb.netns_path)
            sb.state = "SANDBOX_NOTREADY"
            if changed:  # stopping a stopped sandbox again (remove, housekeeping) writes nothing
                self._save_sandbox(sb)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        sb = self._sandboxes.get(sandbox_id)
        if sb is None:
            return
        await self.stop_pod_sandbox(sandbox_id)
        for c in [c for c in self._containers.values() if c.sandbox_id == sandbox_id]:
            await self.remove_container(c.id)
        left = cgroups.remove_tree(sb.cgroup_path)
        if left:
            raise CRIError(f"pod cgroup {sb.cgroup_path} still busy: {left[0]}")
        shutil.rmtree(os.path.join(self.sandbox_dir, sandbox_id), ignore_errors=True)
        self._drop_sandbox(sb)
        self._sandbox_statuses.pop(sandbox_id, None)

    def _sandbox_status(self, sb: _Sandbox) -> cri.PodSandboxStatus:
        st = self._sandbox_statuses.get(sb.id)
        if st is None:
            att = sb.attachment
            st = self._sandbox_statuses[sb.id] = cri.PodSandboxStatus(
                id=sb.id, metadata=sb.config.metadata, state=sb.state,  # type: ignore[arg-type]
                created_at=sb.created_at, ip=att.ip if att else "",
                additional_ips=list(att.additional_ips) if att else [], labels=dict(sb.config.labels),
                annotations=dict(sb.config.annotations), netns_path=sb.netns_path)
        return _copy(st)

    async def pod_sandbox_status(self, sandbox_id: str) -> cri.PodSandboxStatus:
        return self._sandbox_status(self._sandbox(sandbox_id))

    async def list_pod_sandboxes(self) -> list[cri.PodSandboxStatus]:
        return [self._sandbox_status(sb) for sb in self._sandboxes.values()]

    async def list_pod_sandboxes_of(self, pod_uid: str) -> list[cri.PodSandboxStatus]:
        """The sandboxes of one pod (by its uid label, else the sandbox metadata's uid): what filtering
        list_pod_sandboxes gives, without building every other pod's statuses. Optional (the PLEG uses it)."""
        return [self._sandbox_status(self._sandboxes[sid]) for sid in self._pod_sandbox_ids.get(pod_uid, ())]

    # --- containers -------------------------------------------------------------------------------------

    async def create_container(self, sandbox_id: str, config: cri.ContainerConfig,
                               sandbox_config: cri.PodSandboxConfig) -> str:
        sb = self._sandbox(sandbox_id)
        if sb.state != "SANDBOX_READY":
            raise CRIError(f"pod sandbox {sandbox_id[:12]} is not ready")
        image_id = self.layers.resolve(config.image)
        if image_id is None:
            raise CRIError(f"image {config.image!r} not present on the node")
        image_cfg: ImageConfig = self.layers.image_config(image_id)
        layer_dirs = self.layers.layer_dirs(image_id)
        cid = uuid.uuid4().hex + uuid.uuid4().hex
        cdir = self._cdir(cid)
        os.makedirs(cdir)
        log_path = os.path.join(sb.config.log_directory, config.log_path) if config.log_path else ""
        c = _Container(id=cid, sandbox_id=sandbox_id, metadata=config.metadata, image=config.image,
                       image_ref=image_id, labels=dict(config.labels), annotations=dict(config.annotations),
                       log_path=log_path, created_at=time.time_ns(), cgroup_path=f"{sb.cgroup_path}/{cid}",
                       stop_signal=config.stop_signal or image_cfg.stop_signal, stdin=config.stdin, tty=config.tty)
        self._add_container(c)
        self._save_container(c)
        async with _undone_on_failure(lambda: self._destroy(c), f"create container {config.metadata.name}"):
            await self._prepare_and_create(c, cdir, sb, config, image_cfg, layer_dirs)
        return cid

    async def _prepare_and_create(self, c: _Container, cdir: str, sb: _Sandbox, config: cri.ContainerConfig,
                                  image_cfg: ImageConfig, layer_dirs: list[str]) -> None:
        overlay = rootfs.overlay_options(layer_dirs, cdir)
        passwd = group = ""
        with contextlib.suppress(OSError):
            passwd = rootfs.read_image_file(layer_dirs, "etc/passwd")
        with contextlib.suppress(OSError):
            group = rootfs.read_image_file(layer_dirs, "etc/group")
        term_path = os.path.join(cdir, "termination-log")
        open(term_path, "w").close()
        files = sb.files
        floor = await self._oom_floor()
        if config.resources.oom_score_adj < floor:
            config = dataclasses.replace(config, resources=dataclasses.replace(config.resources,
                                                                               oom_score_adj=floor))
        oci = spec.build_spec(
            config, sb.config, image_cfg, netns_path=sb.netns_path, cgroups_path=c.cgroup_path,
            pod_files=spec.PodFiles(hosts=files.get("hosts", ""), hostname=files.get("hostname", ""),
                                    resolv_conf=files.get("resolv_conf", "")),
            termination_log=term_path,
            termination_log_path=config.annotations.get(cri.ANNOTATION_TERMINATION_MESSAGE_PATH)
            or spec.TERMINATION_LOG_PATH,
            passwd=passwd, group=group, nofile=min(1048576, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        _write_json(os.path.join(cdir, "config.json"), oci)
        if c.log_path:
            os.makedirs(os.path.dirname(c.log_path), exist_ok=True)
        log_path = c.log_path or os.path.join(cdir, "output.log")
        _write_json(os.path.join(cdir, "shim.json"), {
            "id": c.id, "bundle": cdir, "runc": self.runc.binary, "runc_root": self.runc.root,
            "runc_log": os.path.join(cdir, "runc-create.json"), "log_path": log_path,
            "stdin": config.stdin, "stdin_once": config.stdin_once, "tty": config.tty,
            "oom_file": cgroups.oom_kill_file(c.cgroup_path),
            "root_mount": {"target": os.path.join(cdir, "rootfs"), "options": overlay},
        })
        await self._start_shim(c, cdir)

    def _shim_env(self) -> dict[str, str]:
        env = dict(self.runc.env)  # the shim's `runc create` runs with it
        pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(sys.modules["pyk8s"].__file__ or "")))
        env["PYTHONPATH"] = pkg_parent + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        return env

    async def _start_shim(self, c: _Container, cdir: str) -> None:
        """Start the container's shim, which runs `runc create`, and wait for its report. c.shim_pid is kept in
        memory only (start_container persists it); until then a restarted runtime finds it in shim.pid."""
        line = await self._run_shim(c, cdir)
        try:
            msg = orjson.loads(line)
        except orjson.JSONDecodeError:
            tail = _read_text(os.path.join(cdir, "shim.log"))[-300:].strip().splitlines()
            raise CRIError(f"container shim failed: {tail[-1] if tail else 'no report'}") from None
        if not msg.get("ok"):
            raise CRIError(f"runc create: {msg.get('error', 'failed')}")

    async def _run_shim(self, c: _Container, cdir: str) -> bytes:
        """Fork (zygote) or exec a shim for the container; its report line (b"" if it died without one)."""
        r_fd, w_fd = os.pipe()
        in_doubt = False  # the zygote failed after taking the request: a shim may or may not have been forked
        try:
            zygote = self._zygote_client()
            if zygote is not None:
                try:
                    c.shim_pid = await zygote.spawn(cdir, w_fd)
                except ZygoteError as e:
                    in_doubt = e.sent
                    if not zygote.usable:
                        log.warning("container shim zygote failed (%s); shims are exec'd from now on", e)
            if not c.shim_pid and not in_doubt:
                c.shim_pid = await self._exec_shim(cdir, w_fd)
        except BaseException:
            os.close(r_fd)
            raise
        finally:
            os.close(w_fd)
        line = await _read_report(r_fd, SHIM_START_TIMEOUT)
        if in_doubt:
            if not line:  # every writer of the pipe is gone without a word: nothing was forked
                return await self._run_shim(c, cdir)
            c.shim_pid = _read_pid_file(os.path.join(cdir, "shim.pid"))
        return line

    def _zygote_client(self) -> ZygoteClient | None:
        if self._zygote is None:
            self._zygote = ZygoteClient(python=self.python, shim_module=SHIM_MODULE, containers_dir=self.container_dir,
                                        log_path=os.path.join(self.state_dir, "zygote.log"), env=self._shim_env())
        return self._zygote if self._zygote.usable else None

    async def _exec_shim(self, cdir: str, sync_fd: int) -> int:
        with open(os.path.join(cdir, "shim.log"), "ab") as shim_log:
            proc = await asyncio.create_subprocess_exec(
                self.python, "-S", "-m", SHIM_MODULE, cdir, str(sync_fd),
                pass_fds=(sync_fd,), start_new_session=True, stdin=asyncio.subprocess.DEVNULL,
                stdout=shim_log, stderr=shim_log, cwd="/", env=self._shim_env())
        return proc.pid

    async def start_container(self, container_id: str) -> None:
        c = self._container(container_id)
        async with self._lock(container_id):
            if c.started_at:
                return
            if self._exit(c) is not None:
                raise CRIError(f"container {container_id[:12]} has already exited")
            await self.runc.start(container_id)
            c.started_at = time.time_ns()
            self._shim_pid(c)
            self._save_container(c)

    def _exit(self, c: _Container) -> dict[str, Any] | None:
        """The exit the shim recorded, or None while the container has not exited (or its shim died first)."""
        ex = self._exits.get(c.id)
        if ex is not None:
            return ex
        path = f"{self.container_dir}/{c.id}/exit.json"
        if not os.access(path, os.F_OK):  # no exception raised and caught on the common path
            return None
        try:
            data = _read_json(path)
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        self._exits[c.id] = data
        return data

    def _shim_pid(self, c: _Container) -> int:
        """The shim's pid; a container adopted between its create and start finds it in the file the shim wrote."""
        if not c.shim_pid:
            c.shim_pid = _read_pid_file(os.path.join(self._cdir(c.id), "shim.pid"))
        return c.shim_pid

    def _shim_alive(self, c: _Container, *, fresh: bool = True) -> bool:
        """Whether the container's shim runs. Not `fresh`: a shim found alive less than SHIM_CHECK_PERIOD ago
        counts as alive (status listings; a shim that exits normally writes exit.json first, seen at once)."""
        pid = self._shim_pid(c)
        if not pid:
            return False
        now = time.monotonic()
        if not fresh and now - self._shim_seen.get(c.id, -SHIM_CHECK_PERIOD) < SHIM_CHECK_PERIOD:
            return True
        alive = (self._zygote is None or pid != self._zygote.pid) and _pid_is_shim(pid)
        if alive:
            self._shim_seen[c.id] = now
        else:
            self._shim_seen.pop(c.id, None)
        return alive

    async def _wait_exit(self, c: _Container, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            ex = self._exit(c)
            if ex is not None:
                return ex
            if not self._shim_alive(c):
                return self._exit(c)
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.1)

    async def stop_container(self, container_id: str, timeout: float) -> None:
        c = self._containers.get(container_id)
        if c is None or c.removed:
            return
        async with self._lock(container_id):
            if self._exit(c) is not None or not self._shim_alive(c):
                return
            sig = _signal_name(c.stop_signal) if c.started_at and timeout > 0 else "KILL"
            with contextlib.suppress(NotFoundError, CRIError):
                await self.runc.kill(container_id, sig)
            if sig != "KILL" and await self._wait_exit(c, timeout) is not None:
                return
            with contextlib.suppress(NotFoundError, CRIError):
                await self.runc.kill(container_id, "KILL")
            if await self._wait_exit(c, 30.0) is None:
                raise CRIError(f"container {container_id[:12]} did not exit after SIGKILL")

    async def remove_container(self, container_id: str) -> None:
        c = self._containers.get(container_id)
        if c is None:
            return
        await self.stop_container(container_id, 0)
        async with self._lock(container_id):
            await self._destroy(c)

    async def _destroy(self, c: _Container) -> None:
        cdir = self._cdir(c.id)
        await self.runc.delete(c.id)
        if self._shim_alive(c):
            # A created-but-never-started container: delete killed its init; let the shim write its exit.
            await self._wait_exit(c, 10.0)
        rootfs.umount(os.path.join(cdir, "rootfs"))
        if os.path.ismount(os.path.join(cdir, "rootfs")):
            raise CRIError(f"rootfs of {c.id[:12]} is still mounted")
        cgroups.remove_tree(c.cgroup_path)
        shutil.rmtree(cdir, ignore_errors=True)
        c.removed = True
        self._drop_container(c)
        for cache in (self._exits, self._shim_seen, self._statuses):
            cache.pop(c.id, None)

    def _status(self, c: _Container) -> cri.ContainerStatus:
        ex = self._exit(c)
        lost = False
        if ex is None and self._shim_pid(c) and not self._shim_alive(c, fresh=False):
            ex = self._exit(c)
            lost = ex is None
        key = (c.started_at, ex is not None, lost)
        cached = self._statuses.get(c.id)
        if cached is None or cached[0] != key:
            if lost:
                ex = {"exitCode": 255, "finishedAt": time.time_ns(), "lost": True}
            cached = self._statuses[c.id] = (key, self._build_status(c, ex))
        return _copy(cached[1])

    def _build_status(self, c: _Container, ex: dict[str, Any] | None) -> cri.ContainerStatus:
        st = cri.ContainerStatus(
            id=c.id, pod_sandbox_id=c.sandbox_id, metadata=c.metadata, state="CONTAINER_CREATED",
            created_at=c.created_at, image=c.image, image_ref=c.image_ref, started_at=c.started_at,
            labels=dict(c.labels), annotations=dict(c.annotations), log_path=c.log_path)
        if ex is not None:
            st.state = "CONTAINER_EXITED"
            st.exit_code = int(ex.get("exitCode", 255))
            st.finished_at = int(ex.get("finishedAt", 0))
            if st.exit_code == 137 and ex.get("oomKilled"):
                st.reason = "OOMKilled"
            elif st.exit_code == 0:
                st.reason = "Completed"
            else:
                st.reason = "Error"
            if ex.get("lost"):
                st.message = "container shim exited without recording an exit status"
            else:
                with contextlib.suppress(OSError):
                    with open(os.path.join(self._cdir(c.id), "termination-log"), "rb") as f:
                        st.message = f.read(TERMINATION_MESSAGE_LIMIT).decode(errors="replace")
        elif c.started_at:
            st.state = "CONTAINER_RUNNING"
        return st

    async def list_containers(self) -> list[cri.ContainerStatus]:
        return [self._status(c) for c in list(self._containers.values()) if not c.removed]

    async def list_containers_of(self, pod_uid: str) -> list[cri.ContainerStatus]:
        """The containers of one pod (by its uid label), like filtering list_containers. Optional (PLEG)."""
        found = [self._containers[cid] for cid in self._pod_container_ids.get(pod_uid, ())]
        return [self._status(c) for c in found if not c.removed]

    async def container_status(self, container_id: str) -> cri.ContainerStatus:
        return self._status(self._container(container_id))

    # --- exec / attach / port-forward -------------------------------------------------------------------

    def _exec_process(self, c: _Container, cmd: list[str], tty: bool) -> str:
        if not cmd:
            raise CRIError("exec: empty command")
        cdir = self._cdir(c.id)
        process = dict(_read_json(os.path.join(cdir, "config.json"))["process"])
        process["args"] = list(cmd)
        process["terminal"] = tty
        process.pop("oomScoreAdj", None)
        fd, path = tempfile.mkstemp(prefix="exec-", suffix=".json", dir=cdir)
        with os.fdopen(fd, "w") as f:
            json.dump(process, f)
        return path

    def _running(self, container_id: str) -> _Container:
        c = self._container(container_id)
        if self._status(c).state != "CONTAINER_RUNNING":
            raise CRIError(f"container {container_id[:12]} is not running")
        return c

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: float) -> cri.ExecSyncResult:
        c = self._running(container_id)
        proc_json = self._exec_process(c, cmd, False)
        pid_file = proc_json[:-5] + ".pid"
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.runc.argv(self.runc.new_log_path(), "exec", "--process", proc_json, "--pid-file", pid_file,
                                container_id),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=self.runc.env)
            timed_out = False
            try:
                out, err = await asyncio.wait_for(proc.communicate(), timeout if timeout > 0 else None)
            except TimeoutError:
                timed_out = True
                _kill_pid_file(pid_file)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                out, err = await proc.communicate()
            except asyncio.CancelledError:  # the probe or hook was abandoned: leave no process in the container
                _kill_pid_file(pid_file)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await asyncio.shield(proc.wait())
                raise
            return cri.ExecSyncResult(stdout=out, stderr=err, exit_code=proc.returncode or 0, timed_out=timed_out)
        finally:
            for p in (proc_json, pid_file):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(p)

    async def exec(self, container_id: str, cmd: list[str], io: cri.StreamIO) -> int:
        c = self._running(container_id)
        proc_json = self._exec_process(c, cmd, io.tty)
        pid_file = proc_json[:-5] + ".pid"
        args = self.runc.argv(self.runc.new_log_path(), "exec", "--process", proc_json, "--pid-file", pid_file,
                              *(["-t"] if io.tty else []), container_id)
        tasks: list[asyncio.Task[None]] = []
        master = slave = -1
        try:
            if io.tty:
                master, slave = os.openpty()
                proc = await asyncio.create_subprocess_exec(*args, stdin=slave, stdout=slave, stderr=slave,
                                                            start_new_session=True, env=self.runc.env)
                os.close(slave)
                slave = -1
                tasks.append(asyncio.create_task(_pump_fd_out(master, io.stdout)))
                if io.stdin is not None:
                    tasks.append(asyncio.create_task(_pump_in_fd(io.stdin, master, close=False)))
                if io.resize is not None:
                    tasks.append(asyncio.create_task(_pump_resize(io.resize, master, proc)))
            else:
                proc = await asyncio.create_subprocess_exec(
                    *args, stdin=asyncio.subprocess.PIPE if io.stdin is not None else asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=self.runc.env)
                assert proc.stdout is not None and proc.stderr is not None
                tasks.append(asyncio.create_task(_pump_reader(proc.stdout, io.stdout)))
                tasks.append(asyncio.create_task(_pump_reader(proc.stderr, io.stderr or io.stdout)))
                if io.stdin is not None and proc.stdin is not None:
                    tasks.append(asyncio.create_task(_pump_in_writer(io.stdin, proc.stdin)))
            try:
                rc = await proc.wait()
            except asyncio.CancelledError:
                _kill_pid_file(pid_file)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                raise
            output_tasks = tasks[:1] if io.tty else tasks[:2]
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*output_tasks, return_exceptions=True), 5)
            return rc
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for fd in (master, slave):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            for p in (proc_json, pid_file):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(p)

    async def attach(self, container_id: str, io: cri.StreamIO) -> None:
        c = self._running(container_id)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, attach_socket_name(self._cdir(c.id)))
        except OSError as e:
            sock.close()
            raise CRIError(f"attach: container shim unreachable: {e}") from None
        reader, writer = await asyncio.open_unix_connection(sock=sock)

        async def send(kind: int, payload: bytes) -> None:
            writer.write(FRAME.pack(kind, len(payload)) + payload)
            await writer.drain()

        async def stdin_pump() -> None:
            assert io.stdin is not None
            async for chunk in io.stdin:
                if chunk:
                    await send(STDIN, chunk)
            await send(STDIN_EOF, b"")

        async def resize_pump() -> None:
            assert io.resize is not None
            async for size in io.resize:
                await send(RESIZE, json.dumps({"width": size.width, "height": size.height}).encode())

        tasks = []
        if io.stdin is not None and c.stdin:
            tasks.append(asyncio.create_task(stdin_pump()))
        if io.resize is not None:
            tasks.append(asyncio.create_task(resize_pump()))
        try:
            while True:
                try:
                    head = await reader.readexactly(FRAME.size)
                    kind, length = FRAME.unpack(head)
                    payload = await reader.readexactly(length)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                if kind == STDOUT and io.stdout is not None:
                    await io.stdout(payload)
                elif kind == STDERR:
                    target = io.stderr or (io.stdout if io.tty else None)
                    if target is not None:
                        await target(payload)
                elif kind == EXIT:
                    return
                if tasks and all(t.done() for t in tasks) and c.stdin and not io.stdout and not io.stderr:
                    return
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def port_forward(self, sandbox_id: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        sb = self._sandbox(sandbox_id)
        if not sb.netns_path:
            return await asyncio.open_connection("127.0.0.1", port)
        try:
            return await netns.open_connection_in_netns(sb.netns_path, "127.0.0.1", port)
        except OSError as e:
            raise CRIError(f"port-forward to port {port}: {e}") from None

    # --- stats ------------------------------------------------------------------------------------------

    def _stats(self, c: _Container) -> cri.ContainerStats:
        s = cgroups.stats(c.cgroup_path)
        used = 0
        with contextlib.suppress(OSError):
            used = _dir_size(os.path.join(self._cdir(c.id), "upper"))
        return cri.ContainerStats(id=c.id, name=c.metadata.name, pod_sandbox_id=c.sandbox_id,
                                  timestamp=time.time_ns(), cpu_usage_core_nanoseconds=s.cpu_usage_ns,
                                  memory_working_set_bytes=s.memory_working_set_bytes,
                                  memory_usage_bytes=s.memory_usage_bytes, rootfs_used_bytes=used)

    async def container_stats(self, container_id: str) -> cri.ContainerStats:
        return self._stats(self._container(container_id))

    async def list_container_stats(self) -> list[cri.ContainerStats]:
        return [self._stats(c) for c in list(self._containers.values())
                if not c.removed and self._status(c).state == "CONTAINER_RUNNING"]

    async def pod_sandbox_stats(self, sandbox_id: str) -> cri.PodSandboxStats:
        sb = self._sandbox(sandbox_id)
        s = cgroups.stats(sb.cgroup_path)
        return cri.PodSandboxStats(id=sandbox_id, timestamp=time.time_ns(), cpu_usage_core_nanoseconds=s.cpu_usage_ns,
                                   memory_working_set_bytes=s.memory_working_set_bytes,
                                   memory_usage_bytes=s.memory_usage_bytes)


@contextlib.asynccontextmanager
async def _undone_on_failure(undo: Callable[[], Awaitable[None]], what: str) -> AsyncIterator[None]:
    """Run the body; if it fails, `undo` (its own failure ignored) and re-raise: CRIError and cancellation as
    they are, anything else as CRIError("<what>: <error>")."""
    try:
        yield
    except BaseException as e:
        with contextlib.suppress(Exception):
            await undo()
        if isinstance(e, CRIError | asyncio.CancelledError):
            raise
        raise CRIError(f"{what}: {e}") from None


def _read_text(path: str) -> str:
    with open(path, errors="replace") as f:
        return f.read()


async def _read_report(fd: int, timeout: float) -> bytes:
    """The shim's one-line report from the read end of its sync pipe (closed here); b"" at EOF."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                os.fdopen(fd, "rb", buffering=0))
    try:
        return await asyncio.wait_for(reader.readline(), timeout)
    except TimeoutError:
        raise CRIError(f"container shim did not report within {timeout:g}s") from None
    finally:
        transport.close()


def _dir_size(path: str) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _kill_pid_file(pid_file: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(_read_text(pid_file).strip()), signal_mod.SIGKILL)


async def _pump_reader(reader: asyncio.StreamReader, out: Any) -> None:
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            return
        if out is not None:
            await out(chunk)


async def _pump_in_writer(source: AsyncIterator[bytes], writer: asyncio.StreamWriter) -> None:
    try:
        async for chunk in source:
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, BrokenPipeError):
        return
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _fd_ready(fd: int, *, write: bool = False) -> None:
    """Until the non-blocking `fd` can be read (or written)."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    (loop.add_writer if write else loop.add_reader)(fd, _wake, ready)
    try:
        await ready
    finally:
        (loop.remove_writer if write else loop.remove_reader)(fd)


async def _pump_fd_out(fd: int, out: Any) -> None:
    os.set_blocking(fd, False)
    while True:
        await _fd_ready(fd)
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            continue
        except OSError:
            return
        if not data:
            return
        if out is not None:
            await out(data)


async def _pump_in_fd(source: AsyncIterator[bytes], fd: int, *, close: bool) -> None:
    async for chunk in source:
        view = memoryview(chunk)
        while view:
            try:
                n = os.write(fd, view)
                view = view[n:]
            except BlockingIOError:
                await _fd_ready(fd, write=True)
            except OSError:
                return
    if not close:
        # EOF on a terminal: ^D
        with contextlib.suppress(OSError):
            os.write(fd, b"\x04")


async def _pump_resize(source: AsyncIterator[cri.TerminalSize], fd: int, proc: asyncio.subprocess.Process) -> None:
    async for size in source:
        with contextlib.suppress(OSError):
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size.height, size.width, 0, 0))
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal_mod.SIGWINCH)
