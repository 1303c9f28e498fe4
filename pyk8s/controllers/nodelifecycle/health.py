"""Judging whether a node's kubelet is still alive: the pure half of upstream's tryUpdateNodeHealth.

A node is alive while either signal moves: the Ready condition's lastHeartbeatTime (node status) or the
renewTime of its Lease in kube-node-lease. The controller remembers, per node, the local time it last saw
either move (`probe_timestamp`); past the grace period (--node-monitor-grace-period, or
--node-startup-grace-period for a node that never posted a Ready condition) every kubelet-owned condition
becomes Unknown.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from pyk8s.api import meta
from pyk8s.controllers.nodelifecycle.taints import get_condition

Obj = dict[str, Any]

# Conditions the controller sets to Unknown (NetworkUnavailable is owned by the control plane, left alone).
KUBELET_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


@dataclasses.dataclass
class NodeHealth:
    probe_timestamp: datetime.datetime
    ready_transition_timestamp: datetime.datetime
    ready: Obj | None = None  # the Ready condition last seen
    lease_renew: datetime.datetime | None = None  # the Lease renewTime last seen


@dataclasses.dataclass
class Assessment:
    health: NodeHealth
    grace: float
    observed_ready: Obj  # the Ready condition as found (a synthetic Unknown when there is none)
    current_ready: Obj | None  # the Ready condition after this assessment
    status_update: Obj | None  # a node copy whose conditions must be written to nodes/status, or None


def lease_renew_time(lease: Obj | None) -> datetime.datetime | None:
    if not lease:
        return None
    return meta.parse_time((lease.get("spec") or {}).get("renewTime"))


def assess(node: Obj, saved: NodeHealth | None, lease_renew: datetime.datetime | None, now: datetime.datetime,
           monitor_grace: float, startup_grace: float) -> Assessment:
    created_str = (node.get("metadata") or {}).get("creationTimestamp")
    created = meta.parse_time(created_str) or now
    current = get_condition(node, "Ready")
    health = dataclasses.replace(saved) if saved is not None else None
    if current is None:
        # Never posted: a synthetic Unknown condition dated at creation, and the longer startup grace.
        observed: Obj = {"type": "Ready", "status": "Unknown", "lastHeartbeatTime": created_str,
                         "lastTransitionTime": created_str}
        grace = startup_grace
        if health is not None:
            health.ready = None
        else:
            health = NodeHealth(created, created)
    else:
        observed = dict(current)
        grace = monitor_grace
    saved_ready = health.ready if health is not None else None
    saved_lease = health.lease_renew if health is not None else None
    if health is None or (saved_ready is None and current is not None):
        health = NodeHealth(now, now, dict(current) if current else None, saved_lease)
    elif saved_ready is not None and current is not None and (
            saved_ready.get("lastHeartbeatTime") != current.get("lastHeartbeatTime")):
        transition = (now if saved_ready.get("lastTransitionTime") != current.get("lastTransitionTime")
                      else health.ready_transition_timestamp)
        health = NodeHealth(now, transition, dict(current), saved_lease)
    if lease_renew is not None and (saved_lease is None or saved_lease < lease_renew):
        health.lease_renew = lease_renew
        health.probe_timestamp = now

    update = None
    current_after = dict(current) if current is not None else None
    if now > health.probe_timestamp + datetime.timedelta(seconds=grace):
        updated = meta.copy(node)
        conditions = updated.setdefault("status", {}).setdefault("conditions", [])
        stamp = meta.now_rfc3339(now)
        for ctype in KUBELET_CONDITIONS:
            cond = get_condition(updated, ctype)
            if cond is None:
                conditions.append({"type": ctype, "status": "Unknown", "lastHeartbeatTime": created_str,
                                   "lastTransitionTime": stamp, "reason": "NodeStatusNeverUpdated",
                                   "message": "Kubelet never posted node status."})
            elif cond.get("status") != "Unknown":
                cond.update(status="Unknown", reason="NodeStatusUnknown",
                            message="Kubelet stopped posting node status.", lastTransitionTime=stamp)
        current_after = get_condition(updated, "Ready")
        if current_after != observed:
            update = updated
    return Assessment(health, grace, observed, current_after, update)
