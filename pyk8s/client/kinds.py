"""The resources components talk about most, as `Resource` constants (looked up once from the api table)."""

from __future__ import annotations

from pyk8s.api.resources import TABLE, Resource


def resource(api_version: str, plural: str) -> Resource:
    """The Resource for ("apps/v1", "deployments"); KeyError when pyk8s does not serve it."""
    group, _, version = api_version.rpartition("/")
    r = TABLE.lookup(group, version, plural)
    if r is None:
        raise KeyError(f"{plural}.{api_version} is not served")
    return r


def resource_for_kind(api_version: str, kind: str) -> Resource:
    """The Resource for an object's apiVersion and kind (ownerReferences name owners this way)."""
    group, _, version = api_version.rpartition("/")
    r = TABLE.by_kind(group, version, kind)
    if r is None:
        raise KeyError(f"{kind}.{api_version} is not served")
    return r


PODS = resource("v1", "pods")
NODES = resource("v1", "nodes")
NAMESPACES = resource("v1", "namespaces")
SERVICES = resource("v1", "services")
ENDPOINTS = resource("v1", "endpoints")
EVENTS = resource("v1", "events")
CONFIGMAPS = resource("v1", "configmaps")
SECRETS = resource("v1", "secrets")
SERVICE_ACCOUNTS = resource("v1", "serviceaccounts")
PERSISTENT_VOLUME_CLAIMS = resource("v1", "persistentvolumeclaims")
PERSISTENT_VOLUMES = resource("v1", "persistentvolumes")
REPLICATION_CONTROLLERS = resource("v1", "replicationcontrollers")
DEPLOYMENTS = resource("apps/v1", "deployments")
REPLICA_SETS = resource("apps/v1", "replicasets")
DAEMON_SETS = resource("apps/v1", "daemonsets")
STATEFUL_SETS = resource("apps/v1", "statefulsets")
CONTROLLER_REVISIONS = resource("apps/v1", "controllerrevisions")
JOBS = resource("batch/v1", "jobs")
CRON_JOBS = resource("batch/v1", "cronjobs")
ENDPOINT_SLICES = resource("discovery.k8s.io/v1", "endpointslices")
LEASES = resource("coordination.k8s.io/v1", "leases")
POD_DISRUPTION_BUDGETS = resource("policy/v1", "poddisruptionbudgets")
PRIORITY_CLASSES = resource("scheduling.k8s.io/v1", "priorityclasses")
