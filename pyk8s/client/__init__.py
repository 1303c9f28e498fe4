"""The only door into the cluster for every component below the apiserver (see client/interface.py)."""
