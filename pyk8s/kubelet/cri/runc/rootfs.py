"""A container's root filesystem (an overlay of the image layers) and a pod's /etc files.

The overlay is an OCI mount at "/" that runc mounts inside the container's mount namespace (see
overlay_root_mount): upper and work dirs live in the container dir, the lower dirs are the image store's
unpacked layers. Overlay's option string must fit in one page, so when the absolute lower paths are too long
they are replaced by short symlinks in the container dir. Containers of older versions had the overlay mounted
on the node at <container dir>/rootfs; `umount` takes those down.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import stat
from typing import Any

from pyk8s.kubelet.cri.interface import CRIError, DNSConfig
from pyk8s.kubelet.hostsfile import hosts_file_content

MNT_DETACH = 2
PAGE = 4096

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def overlay_root_mount(layers: list[str], container_dir: str) -> dict[str, Any]:
    """The OCI mount that puts `layers` (lowest first) read-only under a writable layer at the container's "/".

    runc mounts it inside the container's own mount namespace, on top of the (empty) root directory
    <container_dir>/rootfs, before any other mount: the overlay never shows in the node's mount table, so each
    new container's runc (which reads /proc/self/mountinfo several times, and copies the table into every new
    mount namespace) does not pay for every other container's overlay line, and it goes away with the
    container's last process. Makes rootfs, upper and work dirs."""
    if not layers:
        raise CRIError("image has no layers")
    upper = os.path.join(container_dir, "upper")
    work = os.path.join(container_dir, "work")
    for d in (os.path.join(container_dir, "rootfs"), upper, work):
        os.makedirs(d, exist_ok=True)
    lowers = list(reversed(layers))
    if len(_overlay_options(lowers, upper, work)) >= PAGE:
        links = os.path.join(container_dir, "l")
        os.makedirs(links, exist_ok=True)
        short = []
        for i, layer in enumerate(lowers):
            link = os.path.join(links, str(i))
            if not os.path.islink(link):
                os.symlink(layer, link)
            short.append(link)
        lowers = short
        if len(_overlay_options(lowers, upper, work)) >= PAGE:
            raise CRIError(f"overlay options too long ({len(layers)} layers)")
    return {"destination": "/", "type": "overlay", "source": "overlay",
            "options": [f"lowerdir={':'.join(lowers)}", f"upperdir={upper}", f"workdir={work}"]}


def _overlay_options(lowers: list[str], upper: str, work: str) -> str:
    """Overlay's option string as mount(2) gets it (it must fit in one page)."""
    return f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work}"


def read_image_file(layers: list[str], path: str) -> str:
    """The text of the regular file `path` (relative to "/") as the merged layers (lowest first) show it.

    FileNotFoundError when no layer has it, a whiteout or an opaque directory hides it, or a component on the
    way is not a plain directory (symlinks are not followed: they would resolve against the node's root). The
    layers are in overlay form (see images.unpack): a whiteout is a 0/0 character device, an opaque directory
    has the trusted.overlay.opaque xattr."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise FileNotFoundError(path)
    for layer in reversed(layers):
        here = layer
        for i, part in enumerate(parts):
            parent, here = here, os.path.join(here, part)
            try:
                st = os.lstat(here)
            except FileNotFoundError:
                if i > 0 and _is_opaque(parent):  # this layer's directory hides the lower layers' content
                    raise FileNotFoundError(path) from None
                break  # not in this layer: look below
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:  # a whiteout hides it in every lower layer
                raise FileNotFoundError(path)
            if i < len(parts) - 1:
                if not stat.S_ISDIR(st.st_mode):
                    raise FileNotFoundError(path)
                continue
            if not stat.S_ISREG(st.st_mode):
                raise FileNotFoundError(path)
            fd = os.open(here, os.O_RDONLY | os.O_NOFOLLOW)
            with open(fd, encoding="utf-8", errors="replace") as f:
                return f.read()
    raise FileNotFoundError(path)


def _is_opaque(directory: str) -> bool:
    try:
        return os.getxattr(directory, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


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
