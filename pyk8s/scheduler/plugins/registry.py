"""The in-tree plugin registry: plugin name -> factory(args, handle) (upstream plugins/registry.go)."""

from __future__ import annotations

from pyk8s.scheduler.framework.runtime import Registry
from pyk8s.scheduler.plugins import (
    default_binder,
    default_preemption,
    image_locality,
    inter_pod_affinity,
    node_affinity,
    node_name,
    node_ports,
    node_resources_balanced_allocation,
    node_resources_fit,
    node_unschedulable,
    pod_topology_spread,
    scheduling_gates,
    taint_toleration,
    volume_binding,
)


def in_tree_registry() -> Registry:
    return {
        scheduling_gates.NAME: scheduling_gates.new,
        node_unschedulable.NAME: node_unschedulable.new,
        node_name.NAME: node_name.new,
        taint_toleration.NAME: taint_toleration.new,
        node_affinity.NAME: node_affinity.new,
        node_ports.NAME: node_ports.new,
        node_resources_fit.NAME: node_resources_fit.new,
        volume_binding.NAME: volume_binding.new,
        pod_topology_spread.NAME: pod_topology_spread.new,
        inter_pod_affinity.NAME: inter_pod_affinity.new,
        default_preemption.NAME: default_preemption.new,
        node_resources_balanced_allocation.NAME: node_resources_balanced_allocation.new,
        image_locality.NAME: image_locality.new,
        default_binder.NAME: default_binder.new,
    }
