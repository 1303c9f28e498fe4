"""API discovery documents: aggregated (apidiscovery.k8s.io/v2) and the legacy per-group-version lists.

kubectl asks for the aggregated form first and recognises it only by the parameterised Content-Type;
without that it falls back to the legacy documents (one request per group-version).
"""

from __future__ import annotations

from typing import Any

from pyk8s.api.resources import Resource, ResourceTable

Obj = dict[str, Any]
AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str | None) -> str | None:
    """The aggregated content type to answer with, or None for the legacy form."""
    if not accept:
        return None
    for clause in accept.split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip() for p in clause.split(";")[1:] if "=" in p}
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") == "v2":
                return AGGREGATED_V2
            if params.get("v") == "v2beta1":
                return AGGREGATED_V2BETA1
        elif clause.split(";")[0].strip() in ("application/json", "*/*"):
            return None
    return None


def _response_kind(group: str, version: str, kind: str) -> Obj:
    return {"group": group, "version": version, "kind": kind}


def _aggregated_resource(r: Resource) -> Obj:
    out: Obj = {
        "resource": r.plural,
        "responseKind": _response_kind(r.group, r.version, r.kind),
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular_name,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        out["shortNames"] = list(r.short_names)
    if r.categories:
        out["categories"] = list(r.categories)
    subs = []
    for s in r.subresources:
        subs.append({
            "subresource": s.name,
            "responseKind": _response_kind(s.group if s.kind != r.kind else r.group,
                                           s.version if s.kind != r.kind else r.version, s.kind or r.kind),
            "verbs": list(s.verbs),
        })
    if subs:
        out["subresources"] = subs
    return out


def aggregated(table: ResourceTable, *, legacy: bool, version_tag: str = "v2") -> Obj:
    """APIGroupDiscoveryList for /api (legacy=True, the core group only) or /apis (every named group)."""
    items = []
    for group, versions in table.group_versions().items():
        if (group == "") != legacy:
            continue
        vs = []
        for v in versions:
            vs.append({"version": v, "resources": [_aggregated_resource(r) for r in table.in_group_version(group, v)],
                       "freshness": "Current"})
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": vs})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version_tag}",
            "metadata": {}, "items": items}


def api_versions(server_address: str) -> Obj:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _api_group(group: str, versions: list[str]) -> Obj:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list(table: ResourceTable) -> Obj:
    groups = [_api_group(g, vs) for g, vs in table.group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(table: ResourceTable, group: str) -> Obj | None:
    versions = table.group_versions().get(group)
    if not versions or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_api_group(group, versions)}


def api_resource_list(table: ResourceTable, group: str, version: str) -> Obj | None:
    rs = table.in_group_version(group, version)
    if not rs:
        return None
    resources = []
    for r in rs:
        entry: Obj = {"name": r.plural, "singularName": r.singular_name, "namespaced": r.namespaced,
                      "kind": r.kind, "verbs": list(r.verbs)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        resources.append(entry)
        for s in r.subresources:
            sub: Obj = {"name": f"{r.plural}/{s.name}", "singularName": "", "namespaced": r.namespaced,
                        "kind": s.kind or r.kind, "verbs": list(s.verbs)}
            if s.kind and s.kind != r.kind and (s.group, s.version) != (r.group, r.version):
                sub["group"] = s.group
                sub["version"] = s.version
            resources.append(sub)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
