"""Periodic store compaction, as kube-apiserver does (--etcd-compaction-interval, default 5m).

Each tick compacts to the revision recorded at the previous tick, so history is kept for at least one
interval: a watch or paginated list older than that gets 410 Expired and the client relists.
"""

from __future__ import annotations

import asyncio
import logging

from pyk8s.storage.errors import StorageError
from pyk8s.storage.interface import Store

log = logging.getLogger(__name__)
DEFAULT_COMPACTION_INTERVAL = 300.0


async def compact_periodically(store: Store, interval: float) -> None:
    """Run until cancelled; `interval` <= 0 disables compaction."""
    if interval <= 0:
        return
    previous = await store.current_revision()
    while True:
        await asyncio.sleep(interval)
        current = await store.current_revision()
        if previous > 0:
            try:
                await store.compact(previous)
                log.debug("compacted store to revision %d", previous)
            except StorageError as e:
                log.warning("compaction to revision %d failed: %s", previous, e)
        previous = current
