"""Pure data and functions about Kubernetes objects: no I/O lives here."""
