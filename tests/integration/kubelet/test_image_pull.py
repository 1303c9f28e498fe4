"""The image store against the real docker-registry 2.8 on 127.0.0.1: push a busybox image built without Docker,
pull it through a docker.io mirror, import `docker save` and OCI layout tarballs, and drive `pyk8s images`."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pyk8s.cmd.images import images as images_cli
from pyk8s.kubelet.cri.interface import ImagePullError
from pyk8s.kubelet.cri.runc.images.distribution import Platform
from pyk8s.kubelet.cri.runc.images.mirrors import parse_registries
from pyk8s.kubelet.cri.runc.images.store import ImageStore
from tests.images import BuiltImage, build_busybox_image, docker_save_tar, oci_layout_tar, push_image
from tests.registry import Registry, start_registry

TAG = "pyk8s-test"


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pyk8s-images-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def busybox(workdir: Path) -> BuiltImage:
    return build_busybox_image(workdir / "busybox")


@pytest.fixture(scope="module")
def registry(workdir: Path, busybox: BuiltImage) -> Iterator[Registry]:
    with start_registry(workdir) as reg:
        push_image(reg.url, "library/busybox", TAG, busybox)
        yield reg


def mirror_store(root: Path, registry: Registry) -> ImageStore:
    config = parse_registries({"mirrors": {"docker.io": {"endpoint": [registry.url]}}})
    return ImageStore(str(root), registries=config, platform=Platform("linux", "amd64"))


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


async def test_pull_through_docker_io_mirror(tmp_path: Path, registry: Registry, busybox: BuiltImage) -> None:
    store = mirror_store(tmp_path / "store", registry)
    image_id = await store.pull_image(f"busybox:{TAG}")
    assert image_id == busybox.image_id
    status = await store.image_status(f"docker.io/library/busybox:{TAG}")
    assert status is not None
    assert status.repo_tags == [f"docker.io/library/busybox:{TAG}"]
    assert status.repo_digests == [f"docker.io/library/busybox@{busybox.manifest_digest}"]
    assert status.size > 900_000
    [layer] = store.layer_dirs(image_id)
    assert sha256_file(os.path.join(layer, "bin/busybox")) == sha256_file("/usr/bin/busybox")
    assert os.readlink(os.path.join(layer, "bin/sh")) == "busybox"
    assert oct(os.stat(os.path.join(layer, "tmp")).st_mode & 0o7777) == "0o1777"
    assert "nobody" in Path(layer, "etc/passwd").read_text()
    config = store.image_config(image_id)
    assert config.cmd == ["sh"] and config.env[0].startswith("PATH=")
    # by the registry's own name too (the default endpoint of a loopback registry is plain HTTP)
    assert await store.pull_image(f"{registry.host}/library/busybox:{TAG}") == image_id
    assert {i.id for i in await store.list_images()} == {image_id}
    await store.remove_image(f"busybox:{TAG}")
    assert await store.image_status(image_id) is None
    assert os.listdir(tmp_path / "store/snapshots") == []


async def test_missing_tag_is_a_pull_error(tmp_path: Path, registry: Registry) -> None:
    store = mirror_store(tmp_path / "store", registry)
    with pytest.raises(ImagePullError, match="not found"):
        await store.pull_image(f"{registry.host}/library/busybox:absent")


async def test_import_docker_save_and_oci_layout(tmp_path: Path, busybox: BuiltImage) -> None:
    store = ImageStore(str(tmp_path / "store"), platform=Platform("linux", "amd64"))
    saved = docker_save_tar(tmp_path / "saved.tar", busybox, ["busybox:saved", "example.com/team/bb:1"])
    [(image_id, names)] = await store.import_archive(str(saved))
    assert image_id == busybox.image_id
    assert names == ["docker.io/library/busybox:saved", "example.com/team/bb:1"]
    assert store.resolve("busybox:saved") == image_id == store.resolve("example.com/team/bb:1")
    [layer] = store.layer_dirs(image_id)
    assert os.path.isfile(os.path.join(layer, "bin/busybox"))
    oci = oci_layout_tar(tmp_path / "oci.tar", busybox, "docker.io/library/busybox:oci")
    [(oci_id, oci_names)] = await store.import_archive(str(oci))
    assert oci_id == image_id and oci_names == ["docker.io/library/busybox:oci"]
    status = await store.image_status("busybox:oci")
    assert status is not None and "docker.io/library/busybox:saved" in status.repo_tags
    assert store.layer_dirs(image_id) == [layer]


def test_cli(tmp_path: Path, registry: Registry, busybox: BuiltImage) -> None:
    regfile = tmp_path / "registries.yaml"
    regfile.write_text(yaml.safe_dump({"mirrors": {"docker.io": {"endpoint": [registry.url]}}}))
    base = ["--image-dir", str(tmp_path / "store"), "--registries", str(regfile)]
    runner = CliRunner()

    result = runner.invoke(images_cli, [*base, "pull", f"busybox:{TAG}"])
    assert result.exit_code == 0, result.output
    assert result.output == f"Image is up to date for {busybox.image_id}\n"

    saved = docker_save_tar(tmp_path / "saved.tar", busybox, ["other/name:v2"])
    result = runner.invoke(images_cli, [*base, "import", str(saved)])
    assert result.exit_code == 0, result.output
    assert result.output == f"Imported docker.io/other/name:v2 ({busybox.image_id})\n"

    result = runner.invoke(images_cli, [*base, "ls"])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()]
    assert lines[0] == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    short = busybox.image_id[7:20]
    assert lines[1][:3] == ["docker.io/library/busybox", TAG, short]
    assert lines[2][:3] == ["docker.io/other/name", "v2", short]
    assert lines[1][3].endswith("MB")

    result = runner.invoke(images_cli, [*base, "rm", "nothere:1"])
    assert result.exit_code != 0 and result.output == "Error: no such image nothere:1 present\n"
    result = runner.invoke(images_cli, [*base, "rm", f"busybox:{TAG}"])
    assert result.exit_code == 0 and result.output == f"Deleted: busybox:{TAG}\n"
    result = runner.invoke(images_cli, [*base, "ls", "-q"])
    assert result.output == ""

    result = runner.invoke(images_cli, [*base, "pull", f"{registry.host}/library/busybox:absent"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: failed to pull and unpack image") and result.output.count("\n") == 1
    result = runner.invoke(images_cli, [*base, "import", str(regfile)])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and result.output.count("\n") == 1
