"""StatefulSet member identity, storage, revisions and claim retention refs (pure helpers)."""

from __future__ import annotations

from typing import Any

from pyk8s.controllers.statefulset import history
from pyk8s.controllers.statefulset import pods as sp
from pyk8s.controllers.statefulset.control import inconsistent_status, status_body

Obj = dict[str, Any]


def sts(replicas: int = 3, **spec: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "default", "uid": "set-uid"},
            "spec": {"replicas": replicas, "serviceName": "nginx", "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1"}],
                                           "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "www", "labels": {"tier": "data"}},
                                               "spec": {"accessModes": ["ReadWriteOnce"]}}],
                     **spec}}


def test_names_and_ordinals() -> None:
    s = sts()
    assert sp.parent_and_ordinal({"metadata": {"name": "web-12"}}) == ("web", 12)
    assert sp.parent_and_ordinal({"metadata": {"name": "my-web-3"}}) == ("my-web", 3)
    assert sp.parent_and_ordinal({"metadata": {"name": "web"}}) == ("", -1)
    assert sp.parent_and_ordinal({"metadata": {"name": "web-99999999999"}}) == ("web", -1)
    assert sp.is_member_of(s, {"metadata": {"name": "web-0"}})
    assert not sp.is_member_of(s, {"metadata": {"name": "web2-0"}})
    assert (sp.start_ordinal(s), sp.end_ordinal(s)) == (0, 2)
    shifted = sts(ordinals={"start": 5})
    assert (sp.start_ordinal(shifted), sp.end_ordinal(shifted)) == (5, 7)
    assert sp.in_ordinal_range({"metadata": {"name": "web-7"}}, shifted)
    assert not sp.in_ordinal_range({"metadata": {"name": "web-2"}}, shifted)


def test_new_pod_identity_and_storage() -> None:
    s = sts()
    pod = sp.new_pod(s, 1)
    m = pod["metadata"]
    assert m["name"] == "web-1" and m["namespace"] == "default"
    assert m["labels"] == {"app": "web", sp.POD_NAME_LABEL: "web-1", sp.POD_INDEX_LABEL: "1"}
    assert m["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "set-uid",
                                     "controller": True, "blockOwnerDeletion": True}]
    assert pod["spec"]["hostname"] == "web-1" and pod["spec"]["subdomain"] == "nginx"
    assert pod["spec"]["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-1"}},
                                      {"name": "cfg", "configMap": {"name": "cfg"}}]
    assert sp.identity_matches(s, pod) and sp.storage_matches(s, pod)
    assert "volumes" in s["spec"]["template"]["spec"] and len(s["spec"]["template"]["spec"]["volumes"]) == 1

    broken = {"metadata": {"name": "web-1", "namespace": "default", "labels": {}}, "spec": {"volumes": []}}
    assert not sp.identity_matches(s, broken) and not sp.storage_matches(s, broken)
    sp.update_identity(s, broken)
    sp.update_storage(s, broken)
    assert sp.identity_matches(s, broken) and sp.storage_matches(s, broken)


def test_claims_for_a_member() -> None:
    claims = sp.claims_for(sts(), 2)
    claim = claims["www"]
    assert claim["metadata"]["name"] == "www-web-2" and claim["metadata"]["namespace"] == "default"
    assert claim["metadata"]["labels"] == {"tier": "data", "app": "web"}
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"]}


def test_versioned_pods_respect_the_partition() -> None:
    current, update = sts(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}), sts()
    update["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    low = sp.new_versioned_pod(current, update, "web-a", "web-b", 1)
    high = sp.new_versioned_pod(current, update, "web-a", "web-b", 2)
    assert sp.pod_revision(low) == "web-a" and low["spec"]["containers"][0]["image"] == "nginx:1"
    assert sp.pod_revision(high) == "web-b" and high["spec"]["containers"][0]["image"] == "nginx:2"


def test_revisions() -> None:
    s = sts()
    rev = history.new_revision(s, 1, 0)
    assert rev["metadata"]["name"].startswith("web-")
    assert rev["metadata"]["labels"]["app"] == "web"
    assert rev["metadata"]["labels"][history.HASH_LABEL] == rev["metadata"]["name"][len("web-"):]
    assert rev["data"]["spec"]["template"]["$patch"] == "replace"
    assert history.new_revision(s, 7, 0)["metadata"]["name"] == rev["metadata"]["name"]
    assert history.new_revision(s, 1, 1)["metadata"]["name"] != rev["metadata"]["name"]
    changed = sts()
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    other = history.new_revision(changed, 2, 0)
    assert not history.equal_revision(rev, other)
    assert history.find_equal_revisions([rev, other], history.new_revision(s, 9, 0)) == [rev]
    assert [r["revision"] for r in history.sort_revisions([other, rev])] == [1, 2]
    assert history.next_revision(history.sort_revisions([other, rev])) == 3 and history.next_revision([]) == 1
    restored = history.apply_revision(changed, rev)
    assert restored["spec"]["template"] == s["spec"]["template"]
    assert changed["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"


def _pod(name: str, uid: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "default", "uid": uid}}


def test_claim_owner_refs_follow_the_retention_policy() -> None:
    claim: Obj = {"metadata": {"name": "www-web-1"}}
    live, scaled_down = _pod("web-1", "pod-uid"), _pod("web-5", "pod5-uid")
    retain = sts()
    assert sp.is_claim_owner_up_to_date(claim, retain, live)

    delete_with_set = sts(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Retain"})
    assert not sp.is_claim_owner_up_to_date(claim, delete_with_set, live)
    sp.update_claim_owner_refs(claim, delete_with_set, live)
    assert [r["uid"] for r in claim["metadata"]["ownerReferences"]] == ["set-uid"]
    assert claim["metadata"]["ownerReferences"][0]["controller"] is True
    assert sp.is_claim_owner_up_to_date(claim, delete_with_set, live)

    delete_on_scale = sts(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Retain", "whenScaled": "Delete"})
    assert not sp.is_claim_owner_up_to_date(claim, delete_on_scale, live)  # the set ref must go
    sp.update_claim_owner_refs(claim, delete_on_scale, live)
    assert "ownerReferences" not in claim["metadata"]
    sp.update_claim_owner_refs(claim, delete_on_scale, scaled_down)
    assert [r["uid"] for r in claim["metadata"]["ownerReferences"]] == ["pod5-uid"]
    assert sp.is_claim_owner_up_to_date(claim, delete_on_scale, scaled_down)

    # A ref to an earlier pod of the same name is stale: it blocks re-creation and is left alone.
    reborn = _pod("web-5", "")
    assert sp.has_stale_owner_ref(claim, reborn, "v1", "Pod")
    assert sp.is_claim_owner_up_to_date(claim, delete_on_scale, reborn)


def test_status_consistency_and_body() -> None:
    s = sts()
    s["status"] = {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "currentReplicas": 3,
                   "updatedReplicas": 3, "currentRevision": "web-a", "updateRevision": "web-a",
                   "availableReplicas": 3, "conditions": [{"type": "X"}]}
    same = {k: v for k, v in s["status"].items() if k != "conditions"}
    assert not inconsistent_status(s, same)
    assert inconsistent_status(s, {**same, "readyReplicas": 2})
    assert inconsistent_status(s, {**same, "observedGeneration": 2})
    body = status_body(s["status"], {**same, "readyReplicas": 0, "collisionCount": 0})
    assert "readyReplicas" not in body and body["replicas"] == 3 and body["collisionCount"] == 0
    assert body["conditions"] == [{"type": "X"}]
