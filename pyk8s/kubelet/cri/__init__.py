"""CRI: the runtime seam of the kubelet (interface.py) and its implementations."""
