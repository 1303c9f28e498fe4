"""`pyk8s images`: manage the node's image store by hand (import archives, list, remove, pull), like crictl/ctr."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import click

from pyk8s.kubelet.cri.interface import CRIError, Image
from pyk8s.kubelet.cri.runc.images.mirrors import RegistryConfigError, load_registries
from pyk8s.kubelet.cri.runc.images.store import ImageStore

DEFAULT_IMAGE_DIR = "/var/lib/pyk8s/images"
_T = TypeVar("_T")


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    try:
        return asyncio.run(coro)
    except (CRIError, RegistryConfigError, OSError) as e:
        raise click.ClickException(str(e).splitlines()[0] if str(e) else type(e).__name__) from None


def _store(ctx: click.Context) -> ImageStore:
    opts = ctx.find_object(dict) or {}
    try:
        registries = load_registries(opts["registries"]) if opts.get("registries") else None
        return ImageStore(opts.get("image_dir") or DEFAULT_IMAGE_DIR, registries=registries)
    except (RegistryConfigError, OSError) as e:
        raise click.ClickException(str(e).splitlines()[0]) from None


def human_size(size: float) -> str:
    """Decimal units with three significant digits, as crictl prints image sizes (1.03MB)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000
        i += 1
    return f"{size:.3g}{units[i]}"


def image_rows(images: list[Image]) -> list[tuple[str, str, str, str]]:
    """(IMAGE, TAG, IMAGE ID, SIZE) rows, one per tag; untagged images show their digest's repository."""
    rows: list[tuple[str, str, str, str]] = []
    for image in images:
        short_id = image.id.removeprefix("sha256:")[:13]
        size = human_size(image.size)
        pairs = [(t.rsplit(":", 1)[0], t.rsplit(":", 1)[1]) for t in image.repo_tags]
        if not pairs:
            pairs = [(d.split("@", 1)[0], "<none>") for d in image.repo_digests[:1]] or [("<none>", "<none>")]
        rows.extend((repo, tag, short_id, size) for repo, tag in pairs)
    return sorted(rows)


def format_table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


@click.group("images", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--image-dir", default=DEFAULT_IMAGE_DIR, show_default=True, type=click.Path(file_okay=False),
              help="The node's image store directory.")
@click.option("--registries", default=None, type=click.Path(dir_okay=False),
              help="registries.yaml with mirrors and per-registry auth/tls (k3s format).")
@click.pass_context
def images(ctx: click.Context, image_dir: str, registries: str | None) -> None:
    """Manage the node's image store."""
    ctx.ensure_object(dict)
    ctx.obj.update(image_dir=image_dir, registries=registries)


@images.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.pass_context
def import_(ctx: click.Context, files: tuple[str, ...]) -> None:
    """Import `docker save` or OCI layout tarballs."""
    store = _store(ctx)
    for path in files:
        for image_id, names in _run(store.import_archive(path)):
            for name in names or ["<none>"]:
                click.echo(f"Imported {name} ({image_id})")


@images.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only show image ids.")
@click.pass_context
def ls(ctx: click.Context, quiet: bool) -> None:
    """List images."""
    found = _run(_store(ctx).list_images())
    if quiet:
        for image in found:
            click.echo(image.id)
        return
    click.echo(format_table(image_rows(found), ("IMAGE", "TAG", "IMAGE ID", "SIZE")))


@images.command("rm")
@click.argument("refs", nargs=-1, required=True)
@click.pass_context
def rm(ctx: click.Context, refs: tuple[str, ...]) -> None:
    """Remove images by name, digest or id."""
    store = _store(ctx)
    missing = [r for r in refs if store.resolve(r) is None]
    if missing:
        raise click.ClickException(f"no such image {missing[0]} present")
    for ref in refs:
        _run(store.remove_image(ref))
        click.echo(f"Deleted: {ref}")


@images.command("pull")
@click.argument("ref")
@click.option("--creds", default=None, help="USERNAME[:PASSWORD] for the registry.")
@click.pass_context
def pull(ctx: click.Context, ref: str, creds: str | None) -> None:
    """Pull an image from its registry (mirrors first)."""
    from pyk8s.kubelet.cri.interface import AuthConfig

    auth = None
    if creds:
        username, _, password = creds.partition(":")
        auth = AuthConfig(username=username, password=password)
    image_id = _run(_store(ctx).pull_image(ref, auth))
    click.echo(f"Image is up to date for {image_id}")
