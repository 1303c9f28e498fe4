"""Per-resource behaviour (strategies) and the generic object store they run on."""
