"""Adopting orphans and releasing strays (framework.ownership, upstream's ControllerRefManager)."""

from __future__ import annotations

import pytest

from pyk8s.api import errors
from pyk8s.api.labels import selector_from_set
from pyk8s.client.fake import FakeClient
from pyk8s.client.interface import Obj
from pyk8s.client.kinds import PODS, REPLICA_SETS
from pyk8s.controllers.framework.ownership import (
    AdoptionRefused,
    Claim,
    ClaimError,
    ControllerRefManager,
    adopt_patch,
    adoption_refusal,
    claim_action,
    owners_selecting,
    release_patch,
    resolve_controller_ref,
)

NS = "ns"
SELECTOR = selector_from_set({"app": "web"})
OWNER: Obj = {"kind": "ReplicaSet", "metadata": {"name": "web", "namespace": NS, "uid": "owner"}}


def obj(name: str, owner_uid: str | None = None, deleting: bool = False, ns: str = NS,
        labels: dict[str, str] | None = None) -> Obj:
    m: Obj = {"name": name, "namespace": ns, "uid": f"uid-{name}",
              "labels": {"app": "web"} if labels is None else labels}
    if owner_uid:
        m["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": owner_uid,
                                 "controller": True}]
    if deleting:
        m["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": m}


def test_claim_actions() -> None:
    assert claim_action(obj("a", "owner"), OWNER, True) is Claim.OWNED
    assert claim_action(obj("a", "owner"), OWNER, False) is Claim.RELEASE
    assert claim_action(obj("a", "other"), OWNER, True) is Claim.IGNORE
    assert claim_action(obj("a"), OWNER, True) is Claim.ADOPT
    assert claim_action(obj("a"), OWNER, False) is Claim.IGNORE
    assert claim_action(obj("a", deleting=True), OWNER, True) is Claim.IGNORE
    assert claim_action(obj("a", ns="elsewhere"), OWNER, True) is Claim.IGNORE
    deleting_owner = {"metadata": {**OWNER["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert claim_action(obj("a"), deleting_owner, True) is Claim.IGNORE
    assert claim_action(obj("a", "owner"), deleting_owner, False) is Claim.IGNORE
    assert claim_action(obj("a", "owner"), deleting_owner, True) is Claim.OWNED


class DictLister:
    """Just enough of a Lister: objects by "ns/name"."""

    def __init__(self, *objs: Obj) -> None:
        self.objs = {f"{o['metadata']['namespace']}/{o['metadata']['name']}": o for o in objs}

    def get(self, key: str) -> Obj | None:
        return self.objs.get(key)

    def list(self, namespace: str | None = None) -> list[Obj]:
        return [o for o in self.objs.values() if namespace is None or o["metadata"]["namespace"] == namespace]

    def by_index(self, index_name: str, value: str) -> list[Obj]:
        raise KeyError(index_name)

    def keys(self) -> list[str]:
        return list(self.objs)


def owner(name: str, selector: Obj | None, ns: str = NS) -> Obj:
    return {"metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}"}, "spec": {"selector": selector}}


def test_resolve_controller_ref_checks_kind_and_uid() -> None:
    lister = DictLister(owner("web", {"matchLabels": {"app": "web"}}))
    ref = {"kind": "ReplicaSet", "name": "web", "uid": "uid-web", "controller": True}
    assert resolve_controller_ref(lister, NS, ref, "ReplicaSet") is lister.objs["ns/web"]
    assert resolve_controller_ref(lister, NS, {**ref, "uid": "replaced"}, "ReplicaSet") is None
    assert resolve_controller_ref(lister, NS, ref, "Job") is None
    assert resolve_controller_ref(lister, "other", ref, "ReplicaSet") is None
    assert resolve_controller_ref(lister, NS, None, "ReplicaSet") is None


def test_owners_selecting_skips_invalid_and_empty_selectors() -> None:
    lister = DictLister(owner("web", {"matchLabels": {"app": "web"}}), owner("db", {"matchLabels": {"app": "db"}}),
                        owner("all", {}), owner("bad", {"matchExpressions": [{"key": "a", "operator": "Nope"}]}),
                        owner("elsewhere", {"matchLabels": {"app": "web"}}, ns="other"))
    pod = obj("p")
    assert names(owners_selecting(lister, pod)) == ["web"]
    assert sorted(names(owners_selecting(lister, pod, match_empty=True))) == ["all", "web"]
    assert owners_selecting(lister, obj("q", labels={"app": "cache"})) == []


def test_patch_shapes_carry_the_uid_precondition() -> None:
    assert adopt_patch(OWNER, REPLICA_SETS, "uid-a") == {"metadata": {"ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "owner", "controller": True,
         "blockOwnerDeletion": True}], "uid": "uid-a"}}
    with_finalizer = adopt_patch(OWNER, REPLICA_SETS, "uid-a", ["example.com/f"])
    assert with_finalizer["metadata"]["finalizers"] == ["example.com/f"]
    assert with_finalizer["metadata"]["uid"] == "uid-a"
    assert release_patch("owner", "uid-a") == {
        "metadata": {"ownerReferences": [{"$patch": "delete", "uid": "owner"}], "uid": "uid-a"}}


def test_adoption_refusal_messages() -> None:
    assert adoption_refusal(OWNER, OWNER, "ReplicaSet") is None
    replaced = {"metadata": {**OWNER["metadata"], "uid": "new"}}
    assert adoption_refusal(replaced, OWNER, "ReplicaSet") == (
        "can't recheck DeletionTimestamp: original ReplicaSet ns/web is gone: got uid new, wanted owner")
    deleting = {"metadata": {**OWNER["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert adoption_refusal(deleting, OWNER, "ReplicaSet") == "ns/web has just been deleted at 2026-01-01T00:00:00Z"


async def world(*pods: Obj) -> tuple[FakeClient, Obj]:
    """A fake holding the owner ReplicaSet and `pods` (their ownerReferences name the stored owner's UID)."""
    fake = FakeClient()
    owner = await fake.create(REPLICA_SETS, {"metadata": {"name": "web", "namespace": NS},
                                             "spec": {"selector": {"matchLabels": {"app": "web"}}}}, NS)
    for p in pods:
        p = {"metadata": {k: v for k, v in p["metadata"].items() if k not in ("uid", "deletionTimestamp")}}
        for ref in p["metadata"].get("ownerReferences") or ():
            if ref["uid"] == "owner":
                ref["uid"] = owner["metadata"]["uid"]
        await fake.create(PODS, p, p["metadata"]["namespace"])
    fake.clear_actions()
    return fake, owner


def names(objs: list[Obj]) -> list[str]:
    return [o["metadata"]["name"] for o in objs]


def writes(fake: FakeClient) -> list[tuple[str, str, str]]:
    return [(a.verb, a.resource, a.name) for a in fake.actions if a.verb != "get"]


def owner_gets(fake: FakeClient) -> int:
    return len([a for a in fake.actions if a.verb == "get" and a.resource == "replicasets"])


async def test_claim_adopts_releases_and_ignores() -> None:
    fake, owner = await world(obj("mine", "owner"), obj("orphan"), obj("stray", "owner", labels={"app": "db"}),
                              obj("others", "other"), obj("unmatched", labels={"app": "db"}),
                              obj("elsewhere", ns="other-ns"))
    candidates = fake.objects(PODS)
    manager = ControllerRefManager(fake, owner, REPLICA_SETS, SELECTOR)
    claimed = await manager.claim(PODS, candidates)
    assert names(claimed) == ["mine", "orphan"]
    assert claimed[1] is next(c for c in candidates if c["metadata"]["name"] == "orphan")  # the instance given
    assert sorted(writes(fake)) == [("patch", "pods", "orphan"), ("patch", "pods", "stray")]
    assert owner_gets(fake) == 1
    adopt = next(a for a in fake.actions if a.verb == "patch" and a.name == "orphan")
    assert adopt.body["metadata"]["uid"] == (await fake.get(PODS, "orphan", NS))["metadata"]["uid"]
    orphan = await fake.get(PODS, "orphan", NS)
    assert [(r["kind"], r["name"], r["uid"], r["controller"], r["blockOwnerDeletion"])
            for r in orphan["metadata"]["ownerReferences"]] == [
        ("ReplicaSet", "web", owner["metadata"]["uid"], True, True)]
    assert not (await fake.get(PODS, "stray", NS))["metadata"].get("ownerReferences")
    assert (await fake.get(PODS, "others", NS))["metadata"]["ownerReferences"][0]["uid"] == "other"


async def test_filters_narrow_the_match() -> None:
    fake, owner = await world(obj("web-0", "owner"), obj("web-1"), obj("intruder"))
    manager = ControllerRefManager(fake, owner, REPLICA_SETS, SELECTOR)
    claimed = await manager.claim(PODS, fake.objects(PODS), lambda p: p["metadata"]["name"].startswith("web-"))
    assert names(claimed) == ["web-0", "web-1"]
    assert writes(fake) == [("patch", "pods", "web-1")]


async def test_adoption_adds_the_requested_finalizers() -> None:
    fake, owner = await world(obj("mine", "owner"), obj("orphan"))
    await fake.patch(PODS, "orphan", {"metadata": {"finalizers": ["example.com/keep"]}}, NS, patch_type="merge")
    manager = ControllerRefManager(fake, owner, REPLICA_SETS, SELECTOR, adopt_finalizers=["example.com/f"])
    assert names(await manager.claim(PODS, fake.objects(PODS))) == ["mine", "orphan"]
    assert sorted((await fake.get(PODS, "orphan", NS))["metadata"]["finalizers"]) == [
        "example.com/f", "example.com/keep"]
    assert not (await fake.get(PODS, "mine", NS))["metadata"].get("finalizers")  # only adoptions add them


async def test_owner_is_rechecked_once_and_only_when_adopting() -> None:
    fake, owner = await world(obj("mine", "owner"))
    assert names(await ControllerRefManager(fake, owner, REPLICA_SETS, SELECTOR).claim(PODS, fake.objects(PODS)))
    assert owner_gets(fake) == 0  # nothing to adopt: no live read
    fake, owner = await world(obj("a"), obj("b"), obj("c"))
    manager = ControllerRefManager(fake, owner, REPLICA_SETS, SELECTOR)
    assert names(await manager.claim(PODS, fake.objects(PODS))) == ["a", "b", "c"]
    await manager.can_adopt()
    assert owner_gets(fake) == 1


async def test_a_deleting_owner_adopts_and_releases_nothing() -> None:
    fake, owner = await world(obj("mine", "owner"), obj("orphan"), obj("stray", "owner", labels={"app": "db"}))
    deleting = {**owner, "metadata": {**owner["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    claimed = await ControllerRefManager(fake, deleting, REPLICA_SETS, SELECTOR).claim(PODS, fake.objects(PODS))
    assert names(claimed) == ["mine"]
    assert fake.actions == []


async def test_adoption_refused_when_the_live_owner_is_being_deleted() -> None:
    fake, owner = await world(obj("orphan"), obj("orphan-2"))
    live = await fake.get(REPLICA_SETS, "web", NS)
    live["metadata"]["finalizers"] = ["example.com/hold"]
    await fake.update(REPLICA_SETS, live)
    await fake.delete(REPLICA_SETS, "web", NS)
    fake.clear_actions()
    manager = ControllerRefManager(fake, owner, REPLICA_SETS, SELECTOR)  # the (stale) cached owner
    with pytest.raises(ClaimError, match=r"can't adopt Pod ns/orphan \(.+\): ns/web has just been deleted at ") as e:
        await manager.claim(PODS, fake.objects(PODS))
    assert len(e.value.errors) == 2 and all(isinstance(x, AdoptionRefused) for x in e.value.errors)
    assert writes(fake) == [] and owner_gets(fake) == 1


async def test_adoption_refused_when_the_owner_was_replaced_or_cannot_be_read() -> None:
    fake, owner = await world(obj("orphan"))
    impostor = {**owner, "metadata": {**owner["metadata"], "uid": "stale-uid"}}
    with pytest.raises(ClaimError, match=r"can't recheck DeletionTimestamp: original ReplicaSet ns/web is gone: "
                                         r"got uid .+, wanted stale-uid"):
        await ControllerRefManager(fake, impostor, REPLICA_SETS, SELECTOR).claim(PODS, fake.objects(PODS))
    fake.fail_next("get", "replicasets", errors.InternalError("etcd is sad"))
    manager = ControllerRefManager(fake, owner, REPLICA_SETS, SELECTOR)
    with pytest.raises(AdoptionRefused, match=r"can't recheck DeletionTimestamp: .*etcd is sad"):
        await manager.can_adopt()
    with pytest.raises(AdoptionRefused, match="etcd is sad"):  # the answer is kept for the manager's lifetime
        await manager.adopt(PODS, fake.objects(PODS)[0])
    assert writes(fake) == []


async def test_patch_errors_are_aggregated_and_vanished_objects_skipped() -> None:
    fake, owner = await world(obj("a"), obj("b"), obj("c"), obj("d", "owner", labels={"app": "db"}))
    fake.fail_next("patch", "pods", errors.Conflict("a: the object has been modified"))
    fake.fail_next("patch", "pods", errors.NotFound('pods "b" not found'))
    manager = ControllerRefManager(fake, owner, REPLICA_SETS, SELECTOR)
    with pytest.raises(ClaimError) as e:
        await manager.claim(PODS, fake.objects(PODS))
    assert str(e.value) == str(errors.Conflict("a: the object has been modified"))
    assert e.value.reason == "Conflict"  # logged as routine by the Controller
    # every candidate was tried: c adopted and d released despite a's failure
    assert (await fake.get(PODS, "c", NS))["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]
    assert not (await fake.get(PODS, "d", NS))["metadata"].get("ownerReferences")

    mixed = ClaimError([errors.Conflict("x"), RuntimeError("y")])
    assert mixed.reason == "" and str(mixed) == f"[{errors.Conflict('x')}, y]"


async def test_release_ignores_not_found_and_invalid() -> None:
    fake, owner = await world(obj("stray", "owner", labels={"app": "db"}), obj("gone", "owner", labels={"app": "db"}))
    fake.fail_next("patch", "pods", errors.Invalid("no such ownerReference"))
    fake.fail_next("patch", "pods", errors.NotFound("gone"))
    claimed = await ControllerRefManager(fake, owner, REPLICA_SETS, SELECTOR).claim(PODS, fake.objects(PODS))
    assert claimed == []
