"""Which resources the garbage collector watches, and how an ownerReference maps to a resource.

Upstream watches every preferred resource that supports delete, list and watch, except Events
(GetDeletableResources and the default ignored resources). pyk8s has one static resource table, so the
set is fixed: stored resources with those verbs, one version per storage (a resource served at two versions,
such as HorizontalPodAutoscaler, is watched once), Events left out.
"""

from __future__ import annotations

from pyk8s.api.resources import TABLE, Resource

REQUIRED_VERBS = frozenset({"delete", "list", "watch"})
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})  # upstream DefaultIgnoredResources


def monitored_resources() -> list[Resource]:
    out = []
    for r in TABLE.resources:
        if not r.stored or not REQUIRED_VERBS <= set(r.verbs) or (r.group, r.plural) in IGNORED:
            continue
        if TABLE.storage_resource(r) is not r:
            continue
        out.append(r)
    return out


def resource_for(api_version: str, kind: str) -> Resource | None:
    """The served resource for an ownerReference's apiVersion and kind; another version of the same group and
    kind when that exact version is not served (an owner named as apps/v1beta2 is the apps/v1 object)."""
    group, _, version = api_version.rpartition("/")
    r = TABLE.by_kind(group, version, kind)
    if r is not None:
        return r
    for candidate in TABLE.resources:
        if candidate.group == group and candidate.kind == kind:
            return TABLE.storage_resource(candidate)
    return None


def is_namespaced(api_version: str, kind: str) -> bool | None:
    r = resource_for(api_version, kind)
    return None if r is None else r.namespaced
