"""The error a volume plugin raises when it cannot set a volume up; str() is upstream's message for the Event."""

from __future__ import annotations


class VolumeError(Exception):
    """A volume could not be set up (`hostPath type check failed: ...`, `configmap "x" not found`, ...).

    `failures` maps volume name -> message when VolumeManager.mount reports several volumes at once.
    """

    def __init__(self, message: str, failures: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.failures = failures or {}
