"""Create-only review resources answered at once, never stored (SelfSubjectAccessReview & co.).

Authorization is not enforced yet (RBAC objects are stored, enforcement comes later): every
authenticated user is allowed, and the review says so with the reason upstream's RBAC authorizer
gives system:masters.
"""

from __future__ import annotations

from typing import Any

from pyk8s.apiserver.registry.strategy import UserInfo

Obj = dict[str, Any]


def self_subject_access_review(body: Obj, user: UserInfo) -> Obj:
    out = dict(body)
    out["metadata"] = {**(body.get("metadata") or {}), "creationTimestamp": None}
    out["status"] = {"allowed": True}
    if "system:masters" in user.groups:
        out["status"]["reason"] = ""
    return out


def self_subject_rules_review(body: Obj, user: UserInfo) -> Obj:
    out = dict(body)
    out["metadata"] = {**(body.get("metadata") or {}), "creationTimestamp": None}
    out["status"] = {
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
        "incomplete": False,
    }
    return out


def subject_access_review(body: Obj) -> Obj:
    out = dict(body)
    out["metadata"] = {**(body.get("metadata") or {}), "creationTimestamp": None}
    out["status"] = {"allowed": True}
    return out


def self_subject_review(body: Obj, user: UserInfo) -> Obj:
    """authentication.k8s.io SelfSubjectReview: who the server thinks the caller is (`kubectl auth whoami`)."""
    info: Obj = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    if user.extra:
        info["extra"] = user.extra
    return {"kind": "SelfSubjectReview", "apiVersion": body.get("apiVersion", "authentication.k8s.io/v1"),
            "metadata": {"creationTimestamp": None}, "status": {"userInfo": info}}
