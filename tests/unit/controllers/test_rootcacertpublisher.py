"""The root CA cert publisher against the fakes: kube-root-ca.crt in every namespace, recreated and repaired."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyk8s.api import errors
from pyk8s.client.kinds import CONFIGMAPS, NAMESPACES
from pyk8s.controllers.framework import ControllerOptions
from pyk8s.controllers.manager import known_descriptors, select
from pyk8s.controllers.rootcacertpublisher import DESCRIPTOR, ROOT_CA_OPTION, RootCAError, read_root_ca
from pyk8s.controllers.rootcacertpublisher.controller import DESCRIPTION, RootCACertPublisher
from pyk8s.pki.certs import new_ca
from tests.unit.controllers.harness import Harness, until

CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
ANNOTATION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such "
              "as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
              "distributions of Kubernetes clusters.")


@pytest.fixture
async def env() -> AsyncIterator[tuple[Harness, RootCACertPublisher]]:
    h = Harness(ControllerOptions(extra={ROOT_CA_OPTION: CA.encode()}))
    ctrl = RootCACertPublisher(h.ctx)
    await h.start()
    yield h, ctrl
    await h.stop()


def namespace(name: str, phase: str = "Active") -> dict[str, object]:
    return {"metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": phase}}


def test_descriptor_is_enabled_by_default() -> None:
    assert DESCRIPTOR.name == "root-ca-cert-publisher" and DESCRIPTOR.new is RootCACertPublisher
    assert "root-ca-certificate-publisher-controller" in DESCRIPTOR.aliases
    assert DESCRIPTOR in select(known_descriptors(), ["*"])
    assert DESCRIPTION == ANNOTATION


async def test_creates_the_config_map_in_every_namespace(env: tuple[Harness, RootCACertPublisher]) -> None:
    h, ctrl = env
    h.client.seed(NAMESPACES, namespace("team-a"))
    h.client.seed(NAMESPACES, namespace("team-b"))
    await h.run(ctrl)
    creates = h.actions("create", "configmaps")
    assert sorted(a.namespace for a in creates) == ["team-a", "team-b"]
    cm = h.get(CONFIGMAPS, "kube-root-ca.crt", "team-a")
    assert cm is not None
    assert cm["data"] == {"ca.crt": CA}
    assert cm["metadata"]["annotations"] == {"kubernetes.io/description": ANNOTATION}
    h.client.clear_actions()
    await h.run(ctrl)  # nothing more to do
    assert await ctrl.reconcile("team-a") is None
    assert h.actions("create", "configmaps") == [] and h.actions("update", "configmaps") == []


async def test_recreated_when_deleted(env: tuple[Harness, RootCACertPublisher]) -> None:
    h, ctrl = env
    h.client.seed(NAMESPACES, namespace("team-c"))
    await h.run(ctrl)
    await h.client.delete(CONFIGMAPS, "kube-root-ca.crt", "team-c")
    await h.settle()
    await until(lambda: len(ctrl.controller.queue) > 0)
    await h.run(ctrl)
    cm = h.get(CONFIGMAPS, "kube-root-ca.crt", "team-c")
    assert cm is not None and cm["data"] == {"ca.crt": CA}


async def test_changed_data_or_annotation_is_put_back(env: tuple[Harness, RootCACertPublisher]) -> None:
    h, ctrl = env
    h.client.seed(NAMESPACES, namespace("team-d"))
    await h.run(ctrl)
    cm = h.get(CONFIGMAPS, "kube-root-ca.crt", "team-d")
    assert cm is not None
    cm = {**cm, "data": {"ca.crt": "tampered", "extra": "x"},
          "metadata": {**cm["metadata"], "annotations": {"mine": "keep"}, "labels": {"l": "v"}}}
    await h.client.update(CONFIGMAPS, cm)
    await h.settle()
    await until(lambda: len(ctrl.controller.queue) > 0)
    await h.run(ctrl)
    fixed = h.get(CONFIGMAPS, "kube-root-ca.crt", "team-d")
    assert fixed is not None
    assert fixed["data"] == {"ca.crt": CA}
    assert fixed["metadata"]["annotations"] == {"mine": "keep", "kubernetes.io/description": ANNOTATION}
    assert fixed["metadata"]["labels"] == {"l": "v"}


async def test_other_config_maps_are_ignored(env: tuple[Harness, RootCACertPublisher]) -> None:
    h, ctrl = env
    h.client.seed(NAMESPACES, namespace("team-e"))
    await h.run(ctrl)
    await h.client.create(CONFIGMAPS, {"metadata": {"name": "other", "namespace": "team-e"}, "data": {}}, "team-e")
    await h.settle()
    assert len(ctrl.controller.queue) == 0


async def test_gone_or_terminating_namespace_is_not_retried(env: tuple[Harness, RootCACertPublisher]) -> None:
    h, ctrl = env
    h.client.fail_next("create", "configmaps", errors.not_found("namespaces", "", "gone"))
    assert await ctrl.reconcile("gone") is None
    h.client.fail_next("create", "configmaps", errors.Forbidden(
        'configmaps "kube-root-ca.crt" is forbidden: unable to create new content in namespace racing because it '
        "is being terminated", details={"causes": [{"reason": "NamespaceTerminating"}]}))
    assert await ctrl.reconcile("racing") is None
    h.client.fail_next("create", "configmaps", errors.InternalError("boom"))
    with pytest.raises(errors.InternalError):
        await ctrl.reconcile("racing")


async def test_without_a_root_ca_nothing_runs() -> None:
    h = Harness()
    ctrl = RootCACertPublisher(h.ctx)
    assert all(i.resource != CONFIGMAPS for i in h.factory.informers())
    await ctrl.run()  # returns at once
    assert await ctrl.reconcile("any") is None
    assert h.client.actions == []


def test_read_root_ca(tmp_path: Path) -> None:
    ca = new_ca("test-ca")
    good = tmp_path / "ca.crt"
    good.write_bytes(ca.cert_pem)
    assert read_root_ca(str(good)) == ca.cert_pem
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate")
    with pytest.raises(RootCAError, match=f"^error parsing root-ca-file at {re.escape(str(bad))}: "):
        read_root_ca(str(bad))
    with pytest.raises(RootCAError, match=r"^error parsing root-ca-file at "):
        read_root_ca(str(tmp_path / "missing.crt"))
