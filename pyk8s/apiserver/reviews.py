"""Create-only review resources answered at once, never stored (SelfSubjectAccessReview & co.).

They answer with the same authorizer that guards requests (pyk8s/apiserver/authz.py).
"""

from __future__ import annotations

from typing import Any

from pyk8s.apiserver import authz
from pyk8s.apiserver.registry.strategy import UserInfo

Obj = dict[str, Any]


def self_subject_access_review(body: Obj, user: UserInfo) -> Obj:
    """Would the caller be allowed? Answered by the same authorizer that guards real requests."""
    out = dict(body)
    out["metadata"] = {**(body.get("metadata") or {}), "creationTimestamp": None}
    spec = body.get("spec") or {}
    ra = spec.get("resourceAttributes")
    if isinstance(ra, dict):
        attrs = authz.ResourceAttributes(str(ra.get("verb") or ""), str(ra.get("group") or ""),
                                         str(ra.get("resource") or ""), str(ra.get("subresource") or ""),
                                         str(ra.get("namespace") or ""), str(ra.get("name") or ""))
        ok = authz.allowed(user, attrs)
    else:
        nra = spec.get("nonResourceAttributes") or {}
        ok = authz.allowed(user, None, str(nra.get("path") or ""), str(nra.get("verb") or ""))
    out["status"] = {"allowed": ok}
    return out


def self_subject_rules_review(body: Obj, user: UserInfo) -> Obj:
    out = dict(body)
    out["metadata"] = {**(body.get("metadata") or {}), "creationTimestamp": None}
    if authz.SUPERUSER_GROUP in user.groups:
        out["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
        return out
    out["status"] = {
        "resourceRules": [
            {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
             "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
            {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
        ],
        "nonResourceRules": [
            {"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                                                   "/openapi", "/openapi/*", "/readyz", "/version", "/version/"]},
        ],
        "incomplete": False,
    }
    return out


def subject_access_review(body: Obj) -> Obj:
    """Would spec.user (with spec.groups) be allowed? (what webhooks and the kubelet ask)."""
    spec = body.get("spec") or {}
    subject = UserInfo(name=str(spec.get("user") or ""), groups=[str(g) for g in spec.get("groups") or []])
    out = self_subject_access_review(body, subject)
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
