"""The scheduler: assigns every unscheduled pod whose spec.schedulerName is "default-scheduler" to a node.

The shape is upstream kube-scheduler's: a framework of plugins per extension point (framework/), the plugins
themselves (plugins/), a cache of what is on each node (cache.py), the scheduling queue (queue.py), the
scheduling and binding cycles (schedule_one.py) and the wiring to informers, events and leader election
(scheduler.py). It talks to the cluster only through pyk8s.client.
"""
