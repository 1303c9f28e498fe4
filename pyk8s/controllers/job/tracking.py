"""Which pods' tracking-finalizer removals a Job still waits to see (tracking_utils.go).

Once the controller has counted a finished pod and removed its finalizer, a stale cache may still show the
finalizer; the pod's UID stays here until the informer shows it gone, so the pod is never counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable


class FinalizerExpectations:
    def __init__(self) -> None:
        self._by_key: dict[str, set[str]] = {}

    def expect_removals(self, key: str, uids: Iterable[str]) -> None:
        self._by_key.setdefault(key, set()).update(uids)

    def removal_observed(self, key: str, uid: str) -> None:
        uids = self._by_key.get(key)
        if uids is not None:
            uids.discard(uid)

    def expected(self, key: str) -> set[str]:
        return set(self._by_key.get(key, ()))

    def forget(self, key: str) -> None:
        self._by_key.pop(key, None)
