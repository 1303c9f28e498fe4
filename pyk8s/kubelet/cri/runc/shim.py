"""The per-container shim: owns a container's stdio for its whole life, like conmon or containerd-shim.

Run as `python -m pyk8s.kubelet.cri.runc.shim <container_dir> <sync_fd>` in a new session. It reads
<container_dir>/shim.json, becomes a child subreaper, runs `runc create` with pipes (or a pty received over a
console socket) as the container's stdio, reports {"ok", "pid"|"error"} as one json line on the sync fd, then:
writes the output as CRI log lines, serves attach clients on an abstract unix socket, reaps the container's
init and writes exit.json into the container dir. It outlives a kubelet `kill -9`: the kubelet is neither
its reader nor its parent's session. Standard library only, so that it starts fast.

Attach protocol (frames of `>BI` type + length, then payload): shim to client 1 stdout, 2 stderr, 3 exit
(json); client to shim 0 stdin data, 4 stdin EOF, 5 resize (json {"width","height"}).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from typing import Any

PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_SLAVE = 1 << 19
MAX_LINE = 16 * 1024
FRAME = struct.Struct(">BI")
STDIN, STDOUT, STDERR, EXIT, STDIN_EOF, RESIZE = 0, 1, 2, 3, 4, 5
CLIENT_BUFFER_LIMIT = 4 << 20


def rfc3339nano(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def error_from_log(text: str) -> str:
    """The message of the last error-level record of a runc json log, or "". (Here rather than in runc.py, whose
    driver uses it too, because the shim imports the standard library only.)"""
    msg = ""
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("level") in ("error", "fatal"):
            msg = str(rec.get("msg", ""))
    return " ".join(msg.split())


def private_root_mount(target: str, options: str, error_log: str) -> Callable[[], None]:
    """A preexec function for `runc create`: in the child, a mount namespace of its own (a slave of the node's, so
    the node's mounts still reach it and nothing mounted in it goes back) with the container's overlay mounted on
    `target`. runc then finds its root there; the node's mount table never shows the overlay, and the namespace
    dies with runc create, while the container's own mount namespace (copied from it) keeps the overlay. A
    failure is written to `error_log` as a runc-style json error record (what the shim reports) before raising."""
    libc = ctypes.CDLL(None, use_errno=True)
    target_b, options_b = target.encode(), options.encode()

    def fail(what: str) -> None:
        err = ctypes.get_errno()
        with open(error_log, "a") as f:
            f.write(json.dumps({"level": "error", "msg": f"{what}: {os.strerror(err)}"}) + "\n")
        raise OSError(err, what)

    def mount_root() -> None:
        if libc.unshare(CLONE_NEWNS) != 0:
            fail("unshare the mount namespace of runc create")
        if libc.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None) != 0:
            fail("make the mount namespace of runc create a slave")
        if libc.mount(b"overlay", target_b, b"overlay", 0, options_b) != 0:
            fail(f"mount the container's overlay on {target}")

    return mount_root


def attach_socket_name(container_dir: str) -> bytes:
    """The abstract unix socket name of a container's shim (abstract: no 108-byte path limit)."""
    import hashlib

    return b"\0pyk8s-shim-" + hashlib.sha256(os.path.abspath(container_dir).encode()).hexdigest()[:40].encode()


class LogWriter:
    """Writes a stream's bytes as CRI log lines: full lines `F`, pieces of over-long lines `P`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1
        self.reopen()
        self.buffers: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}

    def reopen(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def _emit(self, stream: str, tag: str, content: bytes) -> None:
        line = f"{rfc3339nano(time.time_ns())} {stream} {tag} ".encode() + content + b"\n"
        try:
            os.write(self.fd, line)
        except OSError:
            pass

    def feed(self, stream: str, data: bytes) -> None:
        buf = self.buffers[stream]
        buf += data
        while True:  # one read may hold several pieces of a long line and, after them, its end
            nl = buf.find(b"\n", 0, MAX_LINE + 1)
            if nl >= 0:
                self._emit(stream, "F", bytes(buf[:nl]))
                del buf[: nl + 1]
            elif len(buf) > MAX_LINE:
                self._emit(stream, "P", bytes(buf[:MAX_LINE]))
                del buf[:MAX_LINE]
            else:
                break

    def flush(self) -> None:
        for stream, buf in self.buffers.items():
            if buf:
                self._emit(stream, "P", bytes(buf))
                buf.clear()


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()


class Shim:
    def __init__(self, container_dir: str, sync_fd: int) -> None:
        self.dir = container_dir
        with open(os.path.join(container_dir, "shim.json")) as f:
            self.cfg: dict[str, Any] = json.load(f)
        self.sync_fd = sync_fd
        self.sel = selectors.DefaultSelector()
        self.clients: dict[int, Client] = {}
        self.outputs: dict[int, str] = {}  # fd -> stream name
        self.stdin_fd = -1
        self.stdin_buf = bytearray()
        self.pty_master = -1
        self.init_pid = 0
        self.status: int | None = None
        self.reopen_log = False

    def report(self, msg: dict[str, Any]) -> None:
        try:
            os.write(self.sync_fd, json.dumps(msg).encode() + b"\n")
        except OSError:
            pass
        try:
            os.close(self.sync_fd)
        except OSError:
            pass

    def runc_argv(self, *args: str) -> list[str]:
        c = self.cfg
        return [c["runc"], "--root", c["runc_root"], "--log", c["runc_log"], "--log-format", "json", *args]

    def runc_error(self, fallback: str) -> str:
        try:
            with open(self.cfg["runc_log"]) as f:
                return error_from_log(f.read()) or fallback
        except OSError:
            return fallback

    def create(self) -> bool:
        c = self.cfg
        pid_file = os.path.join(self.dir, "init.pid")
        argv = self.runc_argv("create", "--bundle", c["bundle"], "--pid-file", pid_file)
        console_dir = ""
        listener: socket.socket | None = None
        child_fds: list[int] = []
        devnull = os.open(os.devnull, os.O_RDWR)
        if c.get("tty"):
            console_dir = tempfile.mkdtemp(prefix="pyk8s-console-")
            path = os.path.join(console_dir, "c.sock")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            listener.listen(1)
            argv += ["--console-socket", path]
            stdio = (devnull, devnull, devnull)
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            if c.get("stdin"):
                in_r, in_w = os.pipe()
                self.stdin_fd = in_w
                child_fds.append(in_r)
            else:
                in_r = devnull
            stdio = (in_r, out_w, err_w)
            child_fds += [out_w, err_w]
            self.outputs = {out_r: "stdout", err_r: "stderr"}
        argv.append(c["id"])
        root = c.get("root_mount")
        preexec = private_root_mount(root["target"], root["options"], c["runc_log"]) if root else None
        try:
            try:
                proc = subprocess.Popen(argv, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2], close_fds=True,
                                        preexec_fn=preexec)
            except (OSError, subprocess.SubprocessError) as e:
                self.report({"ok": False, "error": self.runc_error(f"runc create: {e}")})
                return False
            if listener is not None:
                listener.settimeout(0.2)
                while self.pty_master < 0 and proc.poll() is None:
                    try:
                        conn, _ = listener.accept()
                    except TimeoutError:
                        continue
                    with conn:
                        _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
                        if fds:
                            self.pty_master = fds[0]
                if self.pty_master >= 0:
                    self.outputs = {self.pty_master: "stdout"}
                    if c.get("stdin"):
                        self.stdin_fd = os.dup(self.pty_master)
            rc = proc.wait()
        finally:
            if listener is not None:
                listener.close()
                try:
                    os.unlink(os.path.join(console_dir, "c.sock"))
                    os.rmdir(console_dir)
                except OSError:
                    pass
            for fd in [*child_fds, devnull]:
                os.close(fd)
        if rc != 0:
            self.report({"ok": False, "error": self.runc_error(f"runc create exited {rc}")})
            return False
        with open(pid_file) as f:
            self.init_pid = int(f.read().strip())
        for fd in self.outputs:
            os.set_blocking(fd, False)
        if self.stdin_fd >= 0:
            os.set_blocking(self.stdin_fd, False)
        return True

    # --- event loop -------------------------------------------------------------------------------------

    def accept(self, listener: socket.socket) -> None:
        try:
            sock, _ = listener.accept()
        except OSError:
            return
        # The socket is abstract (no file permissions): only root (the kubelet) may attach to the container.
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        if struct.unpack("3i", creds)[1] != 0:
            sock.close()
            return
        sock.setblocking(False)
        client = Client(sock)
        self.clients[sock.fileno()] = client
        self.sel.register(sock, selectors.EVENT_READ, ("client", client))

    def drop_client(self, client: Client) -> None:
        fd = client.sock.fileno()
        if fd in self.clients:
            del self.clients[fd]
            self.sel.unregister(client.sock)
        client.sock.close()

    def send(self, client: Client, kind: int, payload: bytes) -> None:
        client.outbuf += FRAME.pack(kind, len(payload)) + payload
        if len(client.outbuf) > CLIENT_BUFFER_LIMIT:
            self.drop_client(client)
            return
        self.flush_client(client)

    def flush_client(self, client: Client) -> None:
        try:
            while client.outbuf:
                n = client.sock.send(client.outbuf)
                del client.outbuf[:n]
        except BlockingIOError:
            pass
        except OSError:
            self.drop_client(client)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.outbuf else 0)
        if client.sock.fileno() in self.clients:
            self.sel.modify(client.sock, events, ("client", client))

    def client_readable(self, client: Client) -> None:
        try:
            data = client.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.drop_client(client)
            if self.cfg.get("stdin_once"):
                self.close_stdin()
            return
        client.inbuf += data
        while len(client.inbuf) >= FRAME.size:
            kind, length = FRAME.unpack_from(client.inbuf)
            if len(client.inbuf) < FRAME.size + length:
                break
            payload = bytes(client.inbuf[FRAME.size: FRAME.size + length])
            del client.inbuf[: FRAME.size + length]
            if kind == STDIN and self.stdin_fd >= 0:
                self.stdin_buf += payload
                self.write_stdin()
            elif kind == STDIN_EOF and self.cfg.get("stdin_once"):
                self.close_stdin()
            elif kind == RESIZE and self.pty_master >= 0:
                try:
                    size = json.loads(payload)
                    fcntl.ioctl(self.pty_master, termios.TIOCSWINSZ,
                                struct.pack("HHHH", int(size["height"]), int(size["width"]), 0, 0))
                except (ValueError, KeyError, OSError):
                    pass

    def write_stdin(self) -> None:
        if self.stdin_fd < 0:
            return
        try:
            while self.stdin_buf:
                n = os.write(self.stdin_fd, self.stdin_buf)
                del self.stdin_buf[:n]
        except BlockingIOError:
            pass
        except OSError:
            self.stdin_buf.clear()
        key = "stdin"
        registered = any(k.data == key for k in self.sel.get_map().values())
        if self.stdin_buf and not registered:
            self.sel.register(self.stdin_fd, selectors.EVENT_WRITE, key)
        elif not self.stdin_buf and registered:
            self.sel.unregister(self.stdin_fd)

    def close_stdin(self) -> None:
        if self.stdin_fd < 0:
            return
        if any(k.data == "stdin" for k in self.sel.get_map().values()):
            self.sel.unregister(self.stdin_fd)
        os.close(self.stdin_fd)
        self.stdin_fd = -1

    def output_readable(self, fd: int, log: LogWriter) -> bool:
        """Read what is there; False at EOF."""
        stream = self.outputs[fd]
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        except OSError as e:
            if e.errno != errno.EIO:  # EIO: the pty's slave side is gone
                raise
            data = b""
        if not data:
            self.sel.unregister(fd)
            del self.outputs[fd]
            os.close(fd)
            return False
        if self.pty_master >= 0:
            data = data.replace(b"\r\n", b"\n")
        log.feed(stream, data)
        kind = STDOUT if stream == "stdout" else STDERR
        for client in list(self.clients.values()):
            self.send(client, kind, data)
        return True

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.init_pid:
                self.status = status

    def run(self) -> None:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGUSR1, lambda *_: setattr(self, "reopen_log", True))
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if not self.create():
            return
        log = LogWriter(self.cfg["log_path"])
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(attach_socket_name(self.dir))
        listener.listen(16)
        listener.setblocking(False)
        self.sel.register(listener, selectors.EVENT_READ, "listener")
        self.sel.register(wake_r, selectors.EVENT_READ, "wake")
        for fd in self.outputs:
            self.sel.register(fd, selectors.EVENT_READ, "output")
        with open(os.path.join(self.dir, "shim.pid"), "w") as f:
            f.write(str(os.getpid()))
        self.report({"ok": True, "pid": self.init_pid})
        self.reap()
        drain_deadline = 0.0
        while True:
            if self.status is not None:
                now = time.monotonic()
                if not drain_deadline:
                    drain_deadline = now + 2.0
                if not self.outputs or now >= drain_deadline:
                    break
            timeout = 0.1 if self.status is not None else None
            for key, mask in self.sel.select(timeout):
                if key.data == "wake":
                    try:
                        while os.read(wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                    self.reap()
                    if self.reopen_log:
                        self.reopen_log = False
                        log.reopen()
                elif key.data == "listener":
                    self.accept(listener)
                elif key.data == "output":
                    if isinstance(key.fd, int) and key.fd in self.outputs:
                        self.output_readable(key.fd, log)
                elif key.data == "stdin":
                    self.write_stdin()
                else:
                    _, client = key.data
                    if mask & selectors.EVENT_WRITE:
                        self.flush_client(client)
                    if mask & selectors.EVENT_READ and client.sock.fileno() in self.clients:
                        self.client_readable(client)
        log.flush()
        self.finish(listener)

    def finish(self, listener: socket.socket) -> None:
        status = self.status or 0
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            code = 128 + sig
        else:
            sig = 0
            code = os.WEXITSTATUS(status)
        oom = 0
        oom_file = self.cfg.get("oom_file", "")
        if oom_file:
            try:
                with open(oom_file) as f:
                    for line in f:
                        parts = line.split()
                        if len(parts) == 2 and parts[0] == "oom_kill":
                            oom = int(parts[1])
            except (OSError, ValueError):
                pass
        result = {"exitCode": code, "signal": sig, "finishedAt": time.time_ns(), "oomKilled": oom > 0,
                  "oomKills": oom}
        tmp = os.path.join(self.dir, "exit.json.tmp")
        with open(tmp, "w") as f:
            json.dump(result, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.dir, "exit.json"))
        payload = json.dumps(result).encode()
        for client in list(self.clients.values()):
            self.send(client, EXIT, payload)
            client.sock.setblocking(True)
            client.sock.settimeout(1.0)
            try:
                client.sock.sendall(client.outbuf)
            except OSError:
                pass
            self.drop_client(client)
        listener.close()


def main(argv: list[str]) -> int:
    container_dir, sync_fd = argv[0], int(argv[1])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    shim = Shim(container_dir, sync_fd)
    try:
        shim.run()
    except Exception as e:  # the runtime must learn why, whatever happened
        shim.report({"ok": False, "error": f"shim: {type(e).__name__}: {e}"})
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
