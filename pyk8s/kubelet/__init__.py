"""The node agent room: everything a node runs to turn pods bound to it into running workloads.

The kubelet registers its Node, renews the node Lease, posts node status, runs the pods the scheduler binds
to it and reports their status, all through pyk8s.client (never the apiserver's internals). `hollow` is the
simulated variant (kubemark/kwok style): many nodes in one process, pods that only pretend to run.
"""
