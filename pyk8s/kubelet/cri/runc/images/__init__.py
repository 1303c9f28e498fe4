"""The node's OCI image store: pull from registries (with mirrors), import archives, unpack layers for overlayfs, GC.

store.ImageStore is the runtime's ImageService and LayerStore; the other modules are its parts (reference parsing,
registries.yaml, the distribution client, layer unpacking, archive import, the GC decision).
"""
