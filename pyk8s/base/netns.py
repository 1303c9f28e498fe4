"""Sockets in other network namespaces, and pinning namespaces to files, through libc (ctypes; Linux only).

A socket belongs to the network namespace its creating thread was in, and keeps it for life. So a process that
lives in one namespace can still listen or connect in another: one dedicated thread per namespace enters it
once (`setns`), and every socket made on that thread is a socket of that namespace; the event loop then uses it
normally. That is how the kubelet (inside its node namespace) reaches the API server on the root namespace's
127.0.0.1, and how the API server dials node addresses from the switch namespace, with no route between them.

Pinning follows iproute2 (`ip netns add`): the namespace is created on a short-lived thread (`unshare`) and
bind-mounted onto a file under a shared-propagation /run/netns, so `ip netns` and `nsenter --net=` see it too.

Caveat: a thread (or socket) inside a namespace keeps that namespace alive after its file is unpinned;
`release_netns` (which `unpin_netns` calls) ends the cached thread.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import os
import queue
import socket
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import aiohttp

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 1 << 20
MNT_DETACH = 0x2

_T = TypeVar("_T")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _check(rc: int, what: str, path: str = "") -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", path or None)


def setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    """Move the calling thread into the namespace open at `fd`."""
    _check(_libc.setns(fd, nstype), "setns")


def _enter_netns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(fd, CLONE_NEWNET)
    finally:
        os.close(fd)


def is_netns(path: str) -> bool:
    """Whether `path` is a network namespace file (an nsfs inode, e.g. a pinned /run/netns entry)."""
    try:
        return os.stat(path).st_dev == os.stat("/proc/self/ns/net").st_dev
    except OSError:
        return False


class _NetnsThread:
    """One daemon thread that entered a namespace once and then runs whatever is handed to it."""

    def __init__(self, path: str, ident: tuple[int, int]) -> None:
        self.path = path
        self.ident = ident
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue())
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"netns:{os.path.basename(path)}", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            _enter_netns(self.path)
        except BaseException as e:
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        while (item := self._queue.get()) is not None:
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as e:
                future.set_exception(e)

    def submit(self, fn: Callable[..., _T], *args: Any) -> Future[_T]:
        future: Future[_T] = Future()
        self._queue.put((future, fn, args))
        return future

    def stop(self, wait: bool = True) -> None:
        self._queue.put(None)
        if wait and self._thread is not threading.current_thread():
            self._thread.join()


_threads: dict[str, _NetnsThread] = {}
_threads_lock = threading.Lock()


def _thread_for(path: str) -> _NetnsThread:
    st = os.stat(path)  # FileNotFoundError for an unknown namespace
    ident = (st.st_dev, st.st_ino)
    with _threads_lock:
        worker = _threads.get(path)
        if worker is not None and worker.ident == ident:
            return worker
        if worker is not None:  # the file now names another namespace: the old thread is stale
            del _threads[path]
            worker.stop(wait=False)
        worker = _threads[path] = _NetnsThread(path, ident)
        return worker


def run_in_netns(netns_path: str, fn: Callable[..., _T], *args: Any) -> _T:
    """Run `fn(*args)` on the namespace's dedicated thread and return its result (blocks the caller briefly)."""
    return _thread_for(netns_path).submit(fn, *args).result()


async def run_in_netns_async(netns_path: str, fn: Callable[..., _T], *args: Any) -> _T:
    """`run_in_netns` without blocking the event loop."""
    worker = _thread_for(netns_path)
    return await asyncio.wrap_future(worker.submit(fn, *args))


def release_netns(netns_path: str) -> None:
    """End the cached thread of a namespace (so it no longer holds the namespace alive). Idempotent."""
    with _threads_lock:
        worker = _threads.pop(netns_path, None)
    if worker is not None:
        worker.stop(wait=True)


def _new_socket(family: int, type: int, proto: int) -> socket.socket:
    sock = socket.socket(family, type, proto)
    sock.setblocking(False)
    return sock


def socket_in_netns(netns_path: str, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM,
                    proto: int = 0) -> socket.socket:
    """A new non-blocking socket that belongs to the namespace at `netns_path` (whoever uses it later)."""
    return run_in_netns(netns_path, _new_socket, family, type, proto)


def socket_factory_in_netns(netns_path: str) -> Callable[[tuple[Any, ...]], socket.socket]:
    """A socket factory for aiohttp/aiohappyeyeballs (`socket_factory=`): sockets made in `netns_path`."""
    def factory(addr_info: tuple[Any, ...]) -> socket.socket:
        family, type_, proto = addr_info[0], addr_info[1], addr_info[2]
        return socket_in_netns(netns_path, family, type_, proto)
    return factory


def tcp_connector_in_netns(netns_path: str, **kw: Any) -> aiohttp.TCPConnector:
    """An aiohttp connector whose connections are made inside `netns_path` (name resolution stays local)."""
    return aiohttp.TCPConnector(socket_factory=socket_factory_in_netns(netns_path), **kw)


async def _resolve(host: str, port: int, type_: int) -> tuple[int, tuple[Any, ...]]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=type_)
    if not infos:
        raise OSError(errno.EHOSTUNREACH, f"cannot resolve {host}")
    family, _, _, _, addr = infos[0]
    return family, addr


async def connect_in_netns(netns_path: str, host: str, port: int) -> socket.socket:
    """A TCP socket of `netns_path`, connected to host:port."""
    family, addr = await _resolve(host, port, socket.SOCK_STREAM)
    sock = socket_in_netns(netns_path, family, socket.SOCK_STREAM)
    try:
        await asyncio.get_running_loop().sock_connect(sock, addr)
    except BaseException:
        sock.close()
        raise
    return sock


async def open_connection_in_netns(netns_path: str, host: str, port: int,
                                   **kw: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """`asyncio.open_connection` made inside `netns_path`; `kw` goes to it (ssl=, server_hostname=, limit=)."""
    sock = await connect_in_netns(netns_path, host, port)
    try:
        return await asyncio.open_connection(sock=sock, **kw)
    except BaseException:
        sock.close()
        raise


def listening_socket_in_netns(netns_path: str, host: str, port: int, backlog: int = 128) -> socket.socket:
    """A TCP socket of `netns_path` bound to a numeric host:port and listening (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket_in_netns(netns_path, family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


async def start_server_in_netns(client_connected_cb: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                                              Awaitable[None] | None],
                                netns_path: str, host: str, port: int, **kw: Any) -> asyncio.Server:
    """`asyncio.start_server` listening inside `netns_path` on a numeric host:port."""
    sock = listening_socket_in_netns(netns_path, host, port)
    return await asyncio.start_server(client_connected_cb, sock=sock, **kw)


# ---- pinning -------------------------------------------------------------------------------------------------

def _make_shared_mount_dir(directory: str) -> None:
    """iproute2's dance: make `directory` a mount point with shared propagation, so unpinning propagates."""
    os.makedirs(directory, mode=0o755, exist_ok=True)
    target = directory.encode()
    if _libc.mount(b"none", target, b"none", MS_SHARED | MS_REC, None) == 0:
        return
    err = ctypes.get_errno()
    if err != errno.EINVAL:  # EINVAL: not a mount point yet
        raise OSError(err, f"mount --make-rshared: {os.strerror(err)}", directory)
    _check(_libc.mount(target, target, b"none", MS_BIND | MS_REC, None), "mount --rbind", directory)
    _check(_libc.mount(b"none", target, b"none", MS_SHARED | MS_REC, None), "mount --make-rshared", directory)


def _bind_mount(source: str, target: str) -> None:
    _check(_libc.mount(source.encode(), target.encode(), b"none", MS_BIND, None), "mount --bind", target)


def _pin(path: str, source: str | None) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    _make_shared_mount_dir(directory)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)  # FileExistsError if taken
    os.close(fd)
    result: list[BaseException] = []

    def pin() -> None:
        try:
            if source is None:
                _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
                _bind_mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", path)
            else:
                _bind_mount(source, path)
        except BaseException as e:
            result.append(e)

    # unshare moves only the calling thread, so it happens on a thread that dies right after
    t = threading.Thread(target=pin, name="netns-pin")
    t.start()
    t.join()
    if result:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        raise result[0]


def pin_new_netns(path: str) -> None:
    """Create a new network namespace (only `lo`, down) and pin it at `path` (like `ip netns add`).
    The directory becomes a shared mount point as iproute2 makes it. FileExistsError if `path` exists."""
    _pin(path, None)


def pin_netns(source: str, path: str) -> None:
    """Pin an existing namespace (e.g. /proc/self/ns/net or /proc/<pid>/ns/net) at `path`."""
    _pin(path, source)


def unpin_netns(path: str) -> None:
    """Undo pinning: end our thread in it, lazily unmount and remove the file. Idempotent; the namespace
    dies once no process, thread or socket is left in it."""
    release_netns(path)
    if _libc.umount2(path.encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise OSError(err, f"umount: {os.strerror(err)}", path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
