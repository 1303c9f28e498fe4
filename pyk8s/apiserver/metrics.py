"""metrics.k8s.io/v1beta1: NodeMetrics and PodMetrics, what metrics-server serves and ``kubectl top`` reads.

Upstream serves this group from metrics-server behind the aggregator; pyk8s serves it in the apiserver
itself. Each request reads the kubelet Summary API (``GET /stats/summary``) of every Ready node it
concerns, through the same kubelet client as the streaming relays, and shapes the usage as metrics-server
does: cpu as nanocores, memory as working-set bytes, both as canonical quantities. Nodes whose kubelet does
not answer are left out, as metrics-server leaves them out. Only get and list (with a label selector) are
served; the group is listed in discovery with the verbs get and list.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from pyk8s.api import errors, labels, meta
from pyk8s.apiserver.endpoints.common import json_response
from pyk8s.apiserver.kubeletclient import KubeletClient, kubelet_endpoint
from pyk8s.apiserver.registry.registry import Registry

log = logging.getLogger(__name__)
Obj = dict[str, Any]

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
WINDOW = "10s"
SUMMARY_TIMEOUT = 5.0
VERBS = ["get", "list"]
# (plural, kind, namespaced)
RESOURCES = (("nodes", "NodeMetrics", False), ("pods", "PodMetrics", True))


@dataclass(frozen=True, slots=True)
class MetricsRequest:
    plural: str      # "nodes" or "pods"
    namespace: str   # "" for nodes and for pods across all namespaces
    name: str        # "" for a list


def parse_metrics_path(path: str) -> MetricsRequest | None:
    """A metrics resource path under /apis/metrics.k8s.io/v1beta1; None for discovery or anything else."""
    parts = [p for p in path.split("/") if p]
    if parts[:3] != ["apis", GROUP, VERSION] or len(parts) < 4:
        return None
    rest = parts[3:]
    if rest[0] == "namespaces" and len(rest) in (3, 4) and rest[2] == "pods":
        return MetricsRequest("pods", rest[1], rest[3] if len(rest) == 4 else "")
    if rest[0] in ("nodes", "pods") and len(rest) <= 2:
        return MetricsRequest(rest[0], "", rest[1] if len(rest) == 2 else "")
    raise errors.NotFound("the server could not find the requested resource", details={})


# ---------------------------------------------------------------- discovery
def aggregated_group() -> Obj:
    """This group's entry in the /apis APIGroupDiscoveryList."""
    resources = [{"resource": plural, "responseKind": {"group": GROUP, "version": VERSION, "kind": kind},
                  "scope": "Namespaced" if namespaced else "Cluster", "singularResource": "", "verbs": VERBS}
                 for plural, kind, namespaced in RESOURCES]
    return {"metadata": {"name": GROUP, "creationTimestamp": None},
            "versions": [{"version": VERSION, "resources": resources, "freshness": "Current"}]}


def api_group() -> Obj:
    gv = {"groupVersion": GROUP_VERSION, "version": VERSION}
    return {"name": GROUP, "versions": [gv], "preferredVersion": gv}


def api_resource_list() -> Obj:
    resources = [{"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": VERBS}
                 for plural, kind, namespaced in RESOURCES]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION, "resources": resources}


def discovery_document(path: str) -> Obj | None:
    p = path.rstrip("/")
    if p == f"/apis/{GROUP}":
        return {"kind": "APIGroup", "apiVersion": "v1", **api_group()}
    if p == f"/apis/{GROUP_VERSION}":
        return api_resource_list()
    return None


# ---------------------------------------------------------------- quantities
def cpu_quantity(nanocores: int) -> str:
    """Canonical DecimalSI form of a nanocore count ("250m", "1", "1500u", "12345n")."""
    for divisor, suffix in ((1_000_000_000, ""), (1_000_000, "m"), (1_000, "u")):
        if nanocores % divisor == 0:
            return f"{nanocores // divisor}{suffix}"
    return f"{nanocores}n"


def memory_quantity(n_bytes: int) -> str:
    """Canonical BinarySI form of a byte count ("128Mi", "12345Ki", "1000")."""
    if n_bytes == 0:
        return "0"
    for power, suffix in ((6, "Ei"), (5, "Pi"), (4, "Ti"), (3, "Gi"), (2, "Mi"), (1, "Ki")):
        if n_bytes % (1024 ** power) == 0:
            return f"{n_bytes // 1024 ** power}{suffix}"
    return str(n_bytes)


def _usage(stats: Obj) -> Obj:
    cpu = int(((stats.get("cpu") or {}).get("usageNanoCores")) or 0)
    memory = int(((stats.get("memory") or {}).get("workingSetBytes")) or 0)
    return {"cpu": cpu_quantity(cpu), "memory": memory_quantity(memory)}


def _has_usage(stats: Obj) -> bool:
    return (stats.get("cpu") or {}).get("usageNanoCores") is not None and \
        (stats.get("memory") or {}).get("workingSetBytes") is not None


def _timestamp(stats: Obj, fallback: str) -> str:
    return str((stats.get("cpu") or {}).get("time") or fallback)


def _is_ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [] if isinstance(c, dict))


# ---------------------------------------------------------------- serving
class MetricsAPI:
    def __init__(self, registry: Registry, kubelets: KubeletClient) -> None:
        self.registry = registry
        self.kubelets = kubelets

    async def serve(self, request: web.Request, req: MetricsRequest) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        if request.query.get("watch") in ("true", "1"):
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        selector = labels.parse_selector(request.query.get("labelSelector", ""))
        now = meta.now_rfc3339()
        if req.plural == "nodes":
            items = await self._node_metrics(req.name, selector, now)
        else:
            items = await self._pod_metrics(req.namespace, req.name, selector, now)
        if req.name:
            if not items:
                raise errors.not_found(req.plural, GROUP, req.name)
            return json_response(items[0])
        kind = "NodeMetricsList" if req.plural == "nodes" else "PodMetricsList"
        return json_response({"kind": kind, "apiVersion": GROUP_VERSION, "metadata": {}, "items": items})

    async def _nodes(self) -> list[Obj]:
        nodes = self.registry.table.lookup("", "v1", "nodes")
        assert nodes is not None
        return (await self.registry.objects(nodes).list("")).items

    async def _summaries(self, nodes: list[Obj]) -> list[tuple[Obj, Obj]]:
        """(node, summary) for every Ready node among ``nodes`` whose kubelet answered."""
        ready = [n for n in nodes if _is_ready(n)]
        results = await asyncio.gather(*(self._summary(n) for n in ready))
        return [(n, s) for n, s in zip(ready, results, strict=True) if s is not None]

    async def _summary(self, node: Obj) -> Obj | None:
        name = meta.name_of(node)
        try:
            endpoint = kubelet_endpoint(node)
            async with self.kubelets.session().get(endpoint.base_url + "/stats/summary",
                                                   timeout=aiohttp.ClientTimeout(total=SUMMARY_TIMEOUT)) as resp:
                if resp.status != 200:
                    log.info("node %s: /stats/summary answered %d", name, resp.status)
                    return None
                summary = await resp.json(content_type=None)
                return summary if isinstance(summary, dict) else None
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError, errors.StatusError) as e:
            log.info("node %s: cannot read /stats/summary: %s", name, e)
            return None

    async def _node_metrics(self, name: str, selector: labels.Selector, now: str) -> list[Obj]:
        nodes = [n for n in await self._nodes() if (not name or meta.name_of(n) == name)
                 and selector.matches(meta.labels_of(n))]
        out = []
        for node, summary in await self._summaries(nodes):
            stats = summary.get("node") or {}
            if not _has_usage(stats):
                continue
            md: Obj = {"name": meta.name_of(node), "creationTimestamp": now}
            if meta.labels_of(node):
                md["labels"] = meta.labels_of(node)
            out.append({"kind": "NodeMetrics", "apiVersion": GROUP_VERSION, "metadata": md,
                        "timestamp": _timestamp(stats, now), "window": WINDOW, "usage": _usage(stats)})
        return sorted(out, key=lambda m: str(m["metadata"]["name"]))

    async def _pod_metrics(self, namespace: str, name: str, selector: labels.Selector, now: str) -> list[Obj]:
        pods_res = self.registry.table.lookup("", "v1", "pods")
        assert pods_res is not None
        if name:
            try:
                pods = [await self.registry.objects(pods_res).get(namespace, name)]
            except errors.NotFound:
                return []
        else:
            pods = (await self.registry.objects(pods_res).list(namespace)).items
        wanted = {(meta.namespace_of(p), meta.name_of(p)): p for p in pods if selector.matches(meta.labels_of(p))}
        node_names = {(p.get("spec") or {}).get("nodeName") for p in wanted.values()} - {None, ""}
        nodes = [n for n in await self._nodes() if meta.name_of(n) in node_names]
        out = []
        for _node, summary in await self._summaries(nodes):
            for ps in summary.get("pods") or []:
                ref = ps.get("podRef") or {}
                pod = wanted.get((str(ref.get("namespace", "")), str(ref.get("name", ""))))
                if pod is None:
                    continue
                containers = [{"name": c.get("name", ""), "usage": _usage(c)}
                              for c in ps.get("containers") or [] if isinstance(c, dict) and _has_usage(c)]
                if not containers:
                    continue
                md: Obj = {"name": meta.name_of(pod), "namespace": meta.namespace_of(pod), "creationTimestamp": now}
                if meta.labels_of(pod):
                    md["labels"] = meta.labels_of(pod)
                stamps = [_timestamp(c, "") for c in ps.get("containers") or [] if isinstance(c, dict)]
                out.append({"kind": "PodMetrics", "apiVersion": GROUP_VERSION, "metadata": md,
                            "timestamp": max([s for s in stamps if s] or [now]), "window": WINDOW,
                            "containers": containers})
        return sorted(out, key=lambda m: (str(m["metadata"]["namespace"]), str(m["metadata"]["name"])))
