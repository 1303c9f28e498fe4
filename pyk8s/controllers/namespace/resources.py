"""Which resources the namespace controller empties a namespace of: every stored, namespaced resource
that can be listed and deleted, once per storage (events.k8s.io Events are core Events, autoscaling/v1
HPAs are the v2 ones), pods first (upstream's OrderedNamespaceDeletion, on by default since 1.33)."""

from __future__ import annotations

from pyk8s.api.resources import TABLE, Resource, ResourceTable


def deletable_resources(table: ResourceTable = TABLE) -> list[Resource]:
    out: list[Resource] = []
    for r in table.resources:
        if not (r.namespaced and r.stored and "delete" in r.verbs and "list" in r.verbs):
            continue
        if table.storage_resource(r) is not r:
            continue
        out.append(r)
    out.sort(key=lambda r: (r.group, r.plural) != ("", "pods"))
    return out


def gvr_text(r: Resource) -> str:
    """A GroupVersionResource as Go's %v prints it: ``{apps v1 deployments}``, ``{ v1 pods}``."""
    return f"{{{r.group} {r.version} {r.plural}}}"
