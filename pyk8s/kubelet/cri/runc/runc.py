"""An asyncio driver for the runc CLI.

Every call runs `runc --root R --log F --log-format json ...` with a per-call log file F, so the error of a
failed call is its own last error-level json record (runc also prints it on stderr); failures become
CRIError one-liners. Calls have timeouts, after which the runc process is killed.

runc runs with GOMAXPROCS=1 unless the environment sets it: each runc process (and its `runc init`, which
inherits the setting) lives a few milliseconds, and Go's scheduler and garbage collector spreading over every
core cost about 12% more machine CPU per create + start when containers start concurrently (measured on the
2-core VM); nothing in runc's work is parallel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from typing import Any

from pyk8s.kubelet.cri.interface import CRIError, NotFoundError
from pyk8s.kubelet.cri.runc.shim import error_from_log


@dataclass
class RuncState:
    id: str
    pid: int
    status: str  # created | running | stopped | paused
    bundle: str
    created: str


def runc_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment runc runs with: `base` (default: this process's) with GOMAXPROCS=1 unless it has one."""
    env = dict(os.environ if base is None else base)
    env.setdefault("GOMAXPROCS", "1")
    return env


class Runc:
    """runc bound to one state root (one node); `env` is what every runc process gets (see runc_env)."""

    def __init__(self, *, root: str, log_dir: str, binary: str = "runc") -> None:
        self.root = root
        self.log_dir = log_dir
        # Resolved once: a bare name would make every call search PATH (in this process and in the child).
        self.binary = shutil.which(binary) or binary
        self.env = runc_env()
        os.makedirs(root, exist_ok=True)
        os.makedirs(log_dir, exist_ok=True)

    def argv(self, log_path: str, *args: str) -> list[str]:
        """The full command line of one call (used by the shim for `create`)."""
        return [self.binary, "--root", self.root, "--log", log_path, "--log-format", "json", *args]

    def new_log_path(self) -> str:
        return os.path.join(self.log_dir, uuid.uuid4().hex[:16] + ".json")

    async def run(self, *args: str, timeout: float = 30.0, input: bytes | None = None, output: bool = True) -> bytes:
        """Run one runc command; returns its stdout (b"" without `output`: then it goes to /dev/null, one pipe
        less to watch). Raises NotFoundError / CRIError."""
        log_path = self.new_log_path()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv(log_path, *args),
                stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if output else asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE, env=self.env)
        except OSError as e:
            raise CRIError(f"runc {args[0]}: {e}") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(input), timeout)
        except (TimeoutError, asyncio.CancelledError) as e:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            self._drop(log_path)
            if isinstance(e, asyncio.CancelledError):
                raise
            raise CRIError(f"runc {args[0]} timed out after {timeout:g}s") from None
        try:
            if proc.returncode != 0:
                try:
                    with open(log_path) as f:
                        msg = error_from_log(f.read())
                except OSError:
                    msg = ""
                if not msg:
                    msg = " ".join(err.decode(errors="replace").split()) or f"exit status {proc.returncode}"
                if "does not exist" in msg and args[0] in ("state", "kill", "delete", "start", "exec", "ps"):
                    raise NotFoundError(f"runc {args[0]}: {msg}")
                raise CRIError(f"runc {args[0]}: {msg}")
            return out or b""
        finally:
            self._drop(log_path)

    @staticmethod
    def _drop(path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    async def state(self, container_id: str) -> RuncState:
        data = json.loads(await self.run("state", container_id, timeout=10))
        return RuncState(id=data["id"], pid=int(data.get("pid") or 0), status=data.get("status", ""),
                         bundle=data.get("bundle", ""), created=data.get("created", ""))

    async def list(self) -> list[RuncState]:
        out = await self.run("list", "--format", "json", timeout=10)
        data: list[dict[str, Any]] = json.loads(out or b"null") or []
        return [RuncState(id=d["id"], pid=int(d.get("pid") or 0), status=d.get("status", ""),
                          bundle=d.get("bundle", ""), created=d.get("created", "")) for d in data]

    async def start(self, container_id: str) -> None:
        await self.run("start", container_id, timeout=30, output=False)

    async def kill(self, container_id: str, signal: str = "TERM", *, all_processes: bool = False) -> None:
        args = ["kill"] + (["--all"] if all_processes else []) + [container_id, signal]
        await self.run(*args, timeout=10, output=False)

    async def delete(self, container_id: str) -> None:
        """`runc delete` (never -f: it sleeps); a missing container is fine."""
        with contextlib.suppress(NotFoundError):
            await self.run("delete", container_id, timeout=30, output=False)

    async def version(self) -> str:
        proc = await asyncio.create_subprocess_exec(self.binary, "--version", stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.DEVNULL)
        out, _ = await proc.communicate()
        first = out.decode(errors="replace").splitlines()[:1]
        return first[0].split()[-1] if first else "unknown"
