"""Revisioned key-value storage with etcd semantics; only the apiserver uses it."""
