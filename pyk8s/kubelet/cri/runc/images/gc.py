"""Image garbage collection as the kubelet's image GC manager does it.

When the image filesystem's usage reaches imageGCHighThresholdPercent (85), unused images are deleted, least
recently used first (then oldest first), until usage would be at imageGCLowThresholdPercent (80). Images younger
than imageMinimumGCAge (2m) and pinned images are kept; with imageMaximumGCAge set, unused images older than that
go regardless of disk usage. `plan_image_gc` is the pure decision; `collect_images` applies it to a store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pyk8s.kubelet.cri.interface import CRIError, Image, ImageFsInfo

DEFAULT_HIGH_THRESHOLD_PERCENT = 85
DEFAULT_LOW_THRESHOLD_PERCENT = 80
DEFAULT_MIN_AGE_SECONDS = 120.0


@dataclass
class ImageGCPolicy:
    high_threshold_percent: int = DEFAULT_HIGH_THRESHOLD_PERCENT
    low_threshold_percent: int = DEFAULT_LOW_THRESHOLD_PERCENT
    min_age_seconds: float = DEFAULT_MIN_AGE_SECONDS
    max_age_seconds: float = 0.0  # 0 disables age-based removal

    def validate(self) -> None:
        """The kubelet refuses to start with these (upstream messages)."""
        if not 0 <= self.high_threshold_percent <= 100:
            raise ValueError(f"invalid HighThresholdPercent {self.high_threshold_percent}, must be in range [0-100]")
        if not 0 <= self.low_threshold_percent <= 100:
            raise ValueError(f"invalid LowThresholdPercent {self.low_threshold_percent}, must be in range [0-100]")
        if self.low_threshold_percent > self.high_threshold_percent:
            raise ValueError(f"LowThresholdPercent {self.low_threshold_percent} can not be higher than "
                             f"HighThresholdPercent {self.high_threshold_percent}")


@dataclass
class ImageUsage:
    id: str
    size: int
    first_detected: float  # Unix seconds
    last_used: float
    in_use: bool = False
    pinned: bool = False


@dataclass
class ImageGCPlan:
    delete: list[str] = field(default_factory=list)  # image ids, in deletion order
    bytes_to_free: int = 0  # what the thresholds ask for (0: usage below the high threshold)
    bytes_freed: int = 0  # what deleting `delete` frees (by image size)


def usage_percent(capacity: int, available: int) -> int:
    if capacity <= 0:
        raise CRIError(f"invalid capacity {capacity} on image filesystem")
    available = min(available, capacity)
    return 100 - int(available * 100 / capacity)


def plan_image_gc(images: list[ImageUsage], *, capacity: int, available: int, policy: ImageGCPolicy,
                  now: float) -> ImageGCPlan:
    """Which images to delete: too old ones (max age), then LRU until usage reaches the low threshold."""
    plan = ImageGCPlan()
    candidates = sorted((i for i in images if not i.in_use and not i.pinned),
                        key=lambda i: (i.last_used, i.first_detected))
    if policy.max_age_seconds > 0:
        for image in candidates:
            if now - image.last_used > policy.max_age_seconds:
                plan.delete.append(image.id)
                plan.bytes_freed += image.size
        available += plan.bytes_freed
    if usage_percent(capacity, available) < policy.high_threshold_percent:
        return plan
    plan.bytes_to_free = capacity * (100 - policy.low_threshold_percent) // 100 - min(available, capacity)
    freed = 0
    for image in candidates:
        if freed >= plan.bytes_to_free:
            break
        if image.id in plan.delete or now - image.first_detected < policy.min_age_seconds:
            continue
        plan.delete.append(image.id)
        plan.bytes_freed += image.size
        freed += image.size
    return plan


class GCImageStore(Protocol):
    async def list_images(self) -> list[Image]: ...

    async def remove_image(self, ref: str) -> None: ...

    async def image_fs_info(self) -> ImageFsInfo: ...

    def usage_times(self) -> dict[str, tuple[float, float]]: ...


async def collect_images(store: GCImageStore, *, in_use: Callable[[str], bool], policy: ImageGCPolicy | None = None,
                         now: float | None = None) -> ImageGCPlan:
    """Run one image GC pass on `store`; raises CRIError when not enough could be freed (upstream's message)."""
    policy = policy or ImageGCPolicy()
    now = time.time() if now is None else now
    fs = await store.image_fs_info()
    times = store.usage_times()
    usages = [ImageUsage(id=i.id, size=i.size, first_detected=times.get(i.id, (now, now))[0],
                         last_used=times.get(i.id, (now, now))[1], in_use=in_use(i.id), pinned=i.pinned)
              for i in await store.list_images()]
    plan = plan_image_gc(usages, capacity=fs.capacity_bytes, available=fs.available_bytes, policy=policy, now=now)
    for image_id in plan.delete:
        await store.remove_image(image_id)
    if plan.bytes_freed < plan.bytes_to_free:
        raise CRIError(f"Failed to garbage collect required amount of images. Attempted to free "
                       f"{plan.bytes_to_free} bytes, but only found {plan.bytes_freed} bytes eligible to free.")
    return plan
