"""The one table of every resource pyk8s serves.

Discovery, routing, storage keys, OpenAPI, RBAC and kubectl all read resource facts from here, so
names, plurals, scopes and short names are written exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUB_VERBS = ("get", "patch", "update")


@dataclass(frozen=True, slots=True)
class Subresource:
    name: str
    kind: str
    group: str = ""
    version: str = "v1"
    verbs: tuple[str, ...] = SUB_VERBS


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[Subresource, ...] = ()
    singular: str = ""
    # Resources such as SelfSubjectAccessReview are create-only and never stored.
    stored: bool = True
    # Storage prefix under /registry (upstream keeps e.g. "services/specs").
    storage_name: str = ""

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def qualified(self) -> str:
        """``deployments.apps`` / ``pods``: the name upstream uses in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_status(self) -> bool:
        return any(s.name == "status" for s in self.subresources)

    @property
    def has_scale(self) -> bool:
        return any(s.name == "scale" for s in self.subresources)

    def subresource(self, name: str) -> Subresource | None:
        for s in self.subresources:
            if s.name == name:
                return s
        return None

    def key_prefix(self) -> str:
        return f"/registry/{self.storage_name or (self.group + '/' if self.group and self.group not in _PLAIN_GROUPS else '') + self.plural}/"

    def key(self, namespace: str, name: str) -> str:
        """Storage key in upstream's ``/registry/<resource>/<ns>/<name>`` layout."""
        if self.namespaced:
            return f"{self.key_prefix()}{namespace}/{name}"
        return f"{self.key_prefix()}{name}"

    def namespace_prefix(self, namespace: str) -> str:
        return f"{self.key_prefix()}{namespace}/" if self.namespaced and namespace else self.key_prefix()


# Groups whose resources upstream stores without the group in the key (built-ins).
_PLAIN_GROUPS = frozenset(
    {
        "", "apps", "batch", "autoscaling", "policy", "coordination.k8s.io", "discovery.k8s.io",
        "scheduling.k8s.io", "rbac.authorization.k8s.io", "certificates.k8s.io", "events.k8s.io",
        "authorization.k8s.io", "authentication.k8s.io",
    }
)

_STATUS = Subresource("status", "")  # kind filled in by _with_kind


def _status(kind: str, group: str = "", version: str = "v1") -> Subresource:
    return Subresource("status", kind, group, version)


_SCALE = Subresource("scale", "Scale", "autoscaling", "v1")

CREATE_ONLY = ("create",)

RESOURCES: tuple[Resource, ...] = (
    # ---- core/v1 (order matters: kubectl lists `get all` members in discovery order) ----
    Resource("", "v1", "Binding", "bindings", True, verbs=CREATE_ONLY, stored=False),
    Resource("", "v1", "ComponentStatus", "componentstatuses", False, ("cs",), verbs=("get", "list"), stored=False),
    Resource("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    Resource("", "v1", "Endpoints", "endpoints", True, ("ep",), singular="endpoints", storage_name="services/endpoints"),
    Resource("", "v1", "Event", "events", True, ("ev",)),
    Resource("", "v1", "LimitRange", "limitranges", True, ("limits",)),
    Resource("", "v1", "Namespace", "namespaces", False, ("ns",),
             verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
             subresources=(Subresource("finalize", "Namespace", verbs=("update",)), _status("Namespace"))),
    Resource("", "v1", "Node", "nodes", False, ("no",), storage_name="minions",
             subresources=(Subresource("proxy", "NodeProxyOptions", verbs=("create", "delete", "get", "patch", "update")),
                           _status("Node"))),
    Resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",),
             subresources=(_status("PersistentVolumeClaim"),)),
    Resource("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",),
             subresources=(_status("PersistentVolume"),)),
    Resource("", "v1", "Pod", "pods", True, ("po",), ("all",),
             subresources=(
                 Subresource("attach", "PodAttachOptions", verbs=("create", "get")),
                 Subresource("binding", "Binding", verbs=("create",)),
                 Subresource("ephemeralcontainers", "Pod"),
                 Subresource("eviction", "Eviction", "policy", "v1", verbs=("create",)),
                 Subresource("exec", "PodExecOptions", verbs=("create", "get")),
                 Subresource("log", "Pod", verbs=("get",)),
                 Subresource("portforward", "PodPortForwardOptions", verbs=("create", "get")),
                 Subresource("proxy", "PodProxyOptions", verbs=("create", "delete", "get", "patch", "update")),
                 _status("Pod"),
             )),
    Resource("", "v1", "PodTemplate", "podtemplates", True),
    Resource("", "v1", "ReplicationController", "replicationcontrollers", True, ("rc",), ("all",),
             subresources=(_SCALE, _status("ReplicationController")), storage_name="controllers"),
    Resource("", "v1", "ResourceQuota", "resourcequotas", True, ("quota",), subresources=(_status("ResourceQuota"),)),
    Resource("", "v1", "Secret", "secrets", True),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",),
             subresources=(Subresource("token", "TokenRequest", "authentication.k8s.io", "v1", verbs=("create",)),)),
    Resource("", "v1", "Service", "services", True, ("svc",), ("all",), storage_name="services/specs",
             verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
             subresources=(Subresource("proxy", "ServiceProxyOptions", verbs=("create", "delete", "get", "patch", "update")),
                           _status("Service"))),
    # ---- apps/v1 ----
    Resource("apps", "v1", "ControllerRevision", "controllerrevisions", True),
    Resource("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), ("all",),
             subresources=(_status("DaemonSet", "apps"),)),
    Resource("apps", "v1", "Deployment", "deployments", True, ("deploy",), ("all",),
             subresources=(_SCALE, _status("Deployment", "apps"))),
    Resource("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), ("all",),
             subresources=(_SCALE, _status("ReplicaSet", "apps"))),
    Resource("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), ("all",),
             subresources=(_SCALE, _status("StatefulSet", "apps"))),
    # ---- authentication ----
    Resource("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", False,
             verbs=CREATE_ONLY, stored=False),
    # ---- authorization ----
    Resource("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False,
             verbs=CREATE_ONLY, stored=False),
    Resource("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", False,
             verbs=CREATE_ONLY, stored=False),
    Resource("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", False,
             verbs=CREATE_ONLY, stored=False),
    # ---- autoscaling ----
    Resource("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ("hpa",), ("all",),
             subresources=(_status("HorizontalPodAutoscaler", "autoscaling", "v2"),)),
    Resource("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ("hpa",), ("all",),
             subresources=(_status("HorizontalPodAutoscaler", "autoscaling", "v1"),)),
    # ---- batch/v1 ----
    Resource("batch", "v1", "CronJob", "cronjobs", True, ("cj",), ("all",),
             subresources=(_status("CronJob", "batch"),)),
    Resource("batch", "v1", "Job", "jobs", True, (), ("all",), subresources=(_status("Job", "batch"),)),
    # ---- certificates ----
    Resource("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", False, ("csr",),
             subresources=(Subresource("approval", "CertificateSigningRequest", "certificates.k8s.io", "v1"),
                           _status("CertificateSigningRequest", "certificates.k8s.io"))),
    # ---- coordination ----
    Resource("coordination.k8s.io", "v1", "Lease", "leases", True),
    # ---- discovery ----
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    # ---- events ----
    Resource("events.k8s.io", "v1", "Event", "events", True, ("ev",)),
    # ---- policy ----
    Resource("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",),
             subresources=(_status("PodDisruptionBudget", "policy"),)),
    # ---- rbac ----
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    Resource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    Resource("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    # ---- scheduling ----
    Resource("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ("pc",)),
)

# Group order as upstream's aggregated discovery lists them (preferred versions first).
GROUP_ORDER: tuple[str, ...] = (
    "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io",
    "coordination.k8s.io", "discovery.k8s.io", "policy", "rbac.authorization.k8s.io", "scheduling.k8s.io",
)


@dataclass
class ResourceTable:
    """Lookups over RESOURCES by URL segments, kind, and the names kubectl accepts."""

    resources: tuple[Resource, ...] = RESOURCES
    _by_path: dict[tuple[str, str, str], Resource] = field(default_factory=dict)
    _by_gvk: dict[tuple[str, str, str], Resource] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for r in self.resources:
            self._by_path[(r.group, r.version, r.plural)] = r
            self._by_gvk[(r.group, r.version, r.kind)] = r

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> Resource | None:
        return self._by_gvk.get((group, version, kind))

    def group_versions(self) -> dict[str, list[str]]:
        """group -> versions, preferred first, in discovery order."""
        out: dict[str, list[str]] = {}
        for g in ("", *GROUP_ORDER):
            for r in self.resources:
                if r.group == g and r.version not in out.setdefault(g, []):
                    out[g].append(r.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self.resources if r.group == group and r.version == version]

    def storage_resource(self, r: Resource) -> Resource:
        """The resource whose storage a multi-version resource shares (the first version listed).

        events.k8s.io Events are stored as core Events, as upstream does.
        """
        if (r.group, r.plural) == ("events.k8s.io", "events"):
            core = self.lookup("", "v1", "events")
            if core is not None:
                return core
        for other in self.resources:
            if other.group == r.group and other.plural == r.plural:
                return other
        return r


TABLE = ResourceTable()
