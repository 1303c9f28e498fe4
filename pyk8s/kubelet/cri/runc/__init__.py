"""The runc container runtime: OCI images, bundles, overlayfs, cgroups, network namespaces and CNI."""
