"""Template history and hash pieces shared by the workload controllers (framework.revisions)."""

from __future__ import annotations

from pyk8s.client.interface import Obj
from pyk8s.controllers.framework.revisions import (
    canonical_json,
    fnv32,
    fnv32a,
    new_template_revision,
    revision_number,
    safe_encode,
    template_revision_data,
)

WORKLOAD: Obj = {
    "apiVersion": "apps/v1", "kind": "StatefulSet",
    "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "annotations": {"note": "x"}},
    "spec": {"template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
}


def test_hash_pieces_match_the_reference_values() -> None:
    # FNV-1 and FNV-1a test vectors, and upstream's SafeEncodeString of digits.
    assert fnv32(b"") == fnv32a(b"") == 0x811C9DC5
    assert fnv32(b"a") == 0x050C5D7E and fnv32a(b"a") == 0xE40C292C
    assert fnv32a(b"b", fnv32a(b"a")) == fnv32a(b"ab") and fnv32(b"b", fnv32(b"a")) == fnv32(b"ab")
    assert safe_encode("0123456789") == "456789bcdf"
    assert canonical_json({"b": 1, "a": {"d": [], "c": None}}) == b'{"a":{"c":null,"d":[]},"b":1}'


def test_template_revision() -> None:
    data = template_revision_data(WORKLOAD)
    assert data == {"spec": {"template": {**WORKLOAD["spec"]["template"], "$patch": "replace"}}}
    assert "$patch" not in WORKLOAD["spec"]["template"]  # a copy
    rev = new_template_revision(WORKLOAD, "StatefulSet", "web-abc", "controller.kubernetes.io/hash", "abc", data, 3)
    assert rev == {
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {"name": "web-abc", "namespace": "ns",
                     "labels": {"app": "web", "controller.kubernetes.io/hash": "abc"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u1",
                                          "controller": True, "blockOwnerDeletion": True}],
                     "annotations": {"note": "x"}},
        "data": data, "revision": 3}
    assert WORKLOAD["spec"]["template"]["metadata"]["labels"] == {"app": "web"}  # labels copied
    assert revision_number(rev) == 3 and revision_number({}) == 0
