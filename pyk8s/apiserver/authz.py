"""Authorization until RBAC is enforced: what upstream's RBAC allows with only its default bindings.

system:masters may do everything (upstream's superuser group), and so may the control-plane components
and nodes (upstream's bootstrap roles give them wide access; narrowing them is RBAC's job). Every other authenticated user gets what
the default cluster roles give system:authenticated: discovery, /version, OpenAPI and health
(system:discovery, system:public-info-viewer), and creating the self-reviews (system:basic-user) —
nothing else, with upstream's 403 message. RBAC objects are stored already; enforcing them comes later.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyk8s.api import errors
from pyk8s.apiserver.registry.strategy import UserInfo

SUPERUSER_GROUP = "system:masters"
# The control-plane components and nodes. Upstream's bootstrap RBAC roles (system:kube-controller-manager,
# system:kube-scheduler, system:node) grant them broad access; until RBAC is enforced they get it all.
COMPONENT_USERS = frozenset({"system:kube-controller-manager", "system:kube-scheduler", "system:kube-proxy"})
NODES_GROUP = "system:nodes"
_SELF_REVIEWS = frozenset({
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
})


@dataclass(frozen=True, slots=True)
class ResourceAttributes:
    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""


def allowed(user: UserInfo, attrs: ResourceAttributes | None, path: str = "", verb: str = "get") -> bool:
    """Whether `user` may do `attrs` (a resource request) or `verb` on the non-resource `path`."""
    if SUPERUSER_GROUP in user.groups or user.name in COMPONENT_USERS or NODES_GROUP in user.groups:
        return True
    if attrs is None:
        if verb != "get":
            return False
        if path in ("/version", "/healthz", "/livez", "/readyz") or path.startswith("/openapi/"):
            return True
        return _discovery_path(path)
    return attrs.verb == "create" and (attrs.group, attrs.resource) in _SELF_REVIEWS


def _discovery_path(path: str) -> bool:
    """/api, /api/v1, /apis, /apis/<g>, /apis/<g>/<v>: the discovery documents (not resources)."""
    parts = [p for p in path.split("/") if p]
    return (parts[:1] == ["api"] and len(parts) <= 2) or (parts[:1] == ["apis"] and len(parts) <= 3)


def forbidden(user: UserInfo, attrs: ResourceAttributes) -> errors.Forbidden:
    """Upstream's 403: ``pods "x" is forbidden: User "alice" cannot get resource "pods" in API group "" ...``."""
    resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    message = (f'{subject} is forbidden: User "{user.name}" cannot {attrs.verb} resource "{resource}" '
               f'in API group "{attrs.group}" {scope}')
    details = {"name": attrs.name, "kind": attrs.resource}
    if attrs.group:
        details["group"] = attrs.group
    return errors.Forbidden(message, details=details)


def forbidden_path(user: UserInfo, path: str, verb: str) -> errors.Forbidden:
    return errors.Forbidden(f'forbidden: User "{user.name}" cannot {verb} path "{path}"', details={})
