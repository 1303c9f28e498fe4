"""Authorization before RBAC: superusers may do everything, others only discovery and self-reviews."""

from __future__ import annotations

from pyk8s.apiserver import authz
from pyk8s.apiserver.registry.strategy import UserInfo

ADMIN = UserInfo("kubernetes-admin", ["system:masters", "system:authenticated"])
ALICE = UserInfo("alice", ["devs", "system:authenticated"])


def test_superuser_may_do_anything() -> None:
    assert authz.allowed(ADMIN, authz.ResourceAttributes("delete", "apps", "deployments", "", "default", "x"))
    assert authz.allowed(ADMIN, None, "/metrics", "get")


def test_others_get_discovery_and_self_reviews_only() -> None:
    assert not authz.allowed(ALICE, authz.ResourceAttributes("list", "", "pods", "", "default"))
    assert authz.allowed(ALICE, authz.ResourceAttributes("create", "authorization.k8s.io", "selfsubjectaccessreviews"))
    for path in ("/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version", "/openapi/v3"):
        assert authz.allowed(ALICE, None, path, "get"), path
    assert not authz.allowed(ALICE, None, "/metrics", "get")
    assert not authz.allowed(ALICE, None, "/api", "post")


def test_forbidden_messages_match_upstream() -> None:
    e = authz.forbidden(ALICE, authz.ResourceAttributes("get", "apps", "deployments", "", "default", "web"))
    assert e.code == 403 and e.reason == "Forbidden"
    assert e.message == ('deployments.apps "web" is forbidden: User "alice" cannot get resource "deployments" '
                         'in API group "apps" in the namespace "default"')
    e = authz.forbidden(ALICE, authz.ResourceAttributes("create", "", "pods", "exec", "ns1", "p"))
    assert 'cannot create resource "pods/exec" in API group "" in the namespace "ns1"' in e.message
    e = authz.forbidden(ALICE, authz.ResourceAttributes("list", "", "nodes"))
    assert e.message.endswith('cannot list resource "nodes" in API group "" at the cluster scope')
