"""A container's root filesystem (an overlay of the image layers) and a pod's /etc files.

The overlay is mounted with mount(2) through ctypes: upper and work dirs live in the container dir, the lower
dirs are the image store's unpacked layers. Overlay's option string must fit in one page, so when the absolute
lower paths are too long they are replaced by short symlinks in the container dir.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

from pyk8s.kubelet.cri.interface import CRIError, DNSConfig
from pyk8s.kubelet.hostsfile import hosts_file_content

MNT_DETACH = 2
PAGE = 4096

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _mount(source: str, target: str, fstype: str, flags: int, data: str) -> None:
    if _libc.mount(source.encode(), target.encode(), fstype.encode(), flags, data.encode()) != 0:
        err = ctypes.get_errno()
        raise CRIError(f"mount {fstype} on {target}: {os.strerror(err)}")


def mount_overlay(layers: list[str], container_dir: str) -> str:
    """Mount `layers` (lowest first) read-only under a writable layer at <container_dir>/rootfs; returns it."""
    if not layers:
        raise CRIError("image has no layers")
    rootfs = os.path.join(container_dir, "rootfs")
    upper = os.path.join(container_dir, "upper")
    work = os.path.join(container_dir, "work")
    for d in (rootfs, upper, work):
        os.makedirs(d, exist_ok=True)
    lowers = list(reversed(layers))
    opts = f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work}"
    if len(opts) >= PAGE:
        links = os.path.join(container_dir, "l")
        os.makedirs(links, exist_ok=True)
        short = []
        for i, layer in enumerate(lowers):
            link = os.path.join(links, str(i))
            if not os.path.islink(link):
                os.symlink(layer, link)
            short.append(link)
        opts = f"lowerdir={':'.join(short)},upperdir={upper},workdir={work}"
        if len(opts) >= PAGE:
            raise CRIError(f"overlay options too long ({len(lowers)} layers)")
    if os.path.ismount(rootfs):
        return rootfs
    _mount("overlay", rootfs, "overlay", 0, opts)
    return rootfs


def umount(target: str) -> None:
    """Unmount `target` if it is a mount point (lazily when busy). Idempotent."""
    for _ in range(8):
        if not os.path.ismount(target):
            return
        if _libc.umount2(target.encode(), 0) != 0:
            err = ctypes.get_errno()
            if err in (errno.EINVAL, errno.ENOENT):
                return
            if err == errno.EBUSY:
                _libc.umount2(target.encode(), MNT_DETACH)
                continue
            raise CRIError(f"umount {target}: {os.strerror(err)}")


def hosts_file(hostname: str, ip: str) -> str:
    """The sandbox's /etc/hosts, for a pod without hostAliases (the kubelet mounts its own when it has more)."""
    return hosts_file_content([ip] if ip else [], hostname, "", [])


def resolv_conf(dns: DNSConfig) -> str:
    """The pod's /etc/resolv.conf; never the host's resolver."""
    lines = [f"nameserver {s}" for s in dns.servers]
    if dns.searches:
        lines.append("search " + " ".join(dns.searches))
    if dns.options:
        lines.append("options " + " ".join(dns.options))
    return "\n".join(lines) + ("\n" if lines else "")


def write_sandbox_files(sandbox_dir: str, *, hostname: str, ip: str, dns: DNSConfig) -> dict[str, str]:
    """Write hosts, hostname and resolv.conf into the sandbox dir; returns their paths by name."""
    paths = {
        "hosts": os.path.join(sandbox_dir, "hosts"),
        "hostname": os.path.join(sandbox_dir, "hostname"),
        "resolv_conf": os.path.join(sandbox_dir, "resolv.conf"),
    }
    contents = {"hosts": hosts_file(hostname, ip), "hostname": hostname + "\n", "resolv_conf": resolv_conf(dns)}
    for key, path in paths.items():
        with open(path + ".tmp", "w") as f:
            f.write(contents[key])
        os.replace(path + ".tmp", path)
    return paths
