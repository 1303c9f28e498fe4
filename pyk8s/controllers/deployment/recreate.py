"""Recreate strategy helpers (upstream recreate.go): new pods start only once no old pod runs."""

from __future__ import annotations

from typing import Any

from pyk8s.controllers.deployment.util import total_status, uid
from pyk8s.controllers.framework.podstate import is_terminal

Obj = dict[str, Any]


def old_pods_running(new_rs: Obj | None, old_rss: list[Obj], pod_map: dict[str, list[Obj]]) -> bool:
    """Whether an old ReplicaSet still reports pods, or a pod of one (not Succeeded/Failed) still exists.

    `pod_map` maps each owned ReplicaSet's UID to the pods it controls (terminating ones included)."""
    if total_status(old_rss, "replicas") > 0:
        return True
    new_uid = uid(new_rs) if new_rs is not None else None
    for rs_uid, pods in pod_map.items():
        if rs_uid == new_uid:
            continue
        for pod in pods:
            if not is_terminal(pod):
                return True
    return False
