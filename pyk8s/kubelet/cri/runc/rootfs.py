"""A container's root filesystem (an overlay of the image layers) and a pod's /etc files.

The overlay is mounted by the container's shim where only its `runc create` sees it (see overlay_options):
upper and work dirs live in the container dir, the lower dirs are the image store's unpacked layers. Overlay's
option string must fit in one page, so when the absolute lower paths are too long they are replaced by short
symlinks in the container dir. Containers of older versions had the overlay mounted on the node at
<container dir>/rootfs; `umount` takes those down.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import stat

from pyk8s.kubelet.cri.interface import CRIError, DNSConfig
from pyk8s.kubelet.hostsfile import hosts_file_content

MNT_DETACH = 2
PAGE = 4096

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def overlay_options(layers: list[str], container_dir: str) -> str:
    """The overlay mount options that put `layers` (lowest first) read-only under a writable layer; makes the
    container dir's rootfs (the mount point), upper and work dirs.

    The container's shim mounts the overlay on <container_dir>/rootfs in a mount namespace of its `runc create`
    alone (see shim.private_root_mount), so the overlay never shows in the node's mount table: runc reads
    /proc/self/mountinfo several times per create, start and init, and copies the table into every new mount
    namespace, so every other container's overlay line made each new container slower. The container's own
    mount namespace keeps the overlay, which goes away with the container's last process."""
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
    return _overlay_options(lowers, upper, work)


def _overlay_options(lowers: list[str], upper: str, work: str) -> str:
    """Overlay's option string as mount(2) gets it (it must fit in one page)."""
    return f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work}"


MAX_SYMLINKS = 40


def read_image_file(layers: list[str], path: str) -> str:
    """The text of the regular file `path` as the image's merged layers (lowest first) show it, symlinks resolved
    inside the image (an absolute target starts at the image's root, never the node's).

    FileNotFoundError when no layer has it, a whiteout or an opaque directory hides it, or the path leads
    through something that is not a directory. The layers are in overlay form (see images.unpack): a whiteout is
    a 0/0 character device, an opaque directory has the trusted.overlay.opaque xattr."""
    todo = [p for p in path.split("/") if p]
    done: list[str] = []
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            done = done[:-1]
            continue
        entry = _merged_entry(layers, [*done, part])
        if entry is None:
            raise FileNotFoundError(path)
        st = os.lstat(entry)
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > MAX_SYMLINKS:
                raise FileNotFoundError(path)
            target = os.readlink(entry)
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p] + todo
            continue
        if todo and not stat.S_ISDIR(st.st_mode):
            raise FileNotFoundError(path)
        done.append(part)
    if not done:
        raise FileNotFoundError(path)
    entry = _merged_entry(layers, done)
    if entry is None or not stat.S_ISREG(os.lstat(entry).st_mode):
        raise FileNotFoundError(path)
    fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW)
    with open(fd, encoding="utf-8", errors="replace") as f:
        return f.read()


def _merged_entry(layers: list[str], parts: list[str]) -> str | None:
    """The node path of what the merged view shows at `parts` (every parent a directory there), or None: the
    topmost layer holding it, unless a whiteout, or an opaque directory on the way in a higher layer, hides it."""
    for layer in reversed(layers):
        here, opaque = layer, False
        for i, part in enumerate(parts):
            here = os.path.join(here, part)
            try:
                st = os.lstat(here)
            except FileNotFoundError:
                if opaque:  # an opaque directory of this layer hides everything below it in lower layers
                    return None
                break  # not in this layer: look below
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None  # a whiteout
            if i == len(parts) - 1:
                return here
            if not stat.S_ISDIR(st.st_mode):
                return None
            opaque = opaque or _is_opaque(here)
    return None


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
