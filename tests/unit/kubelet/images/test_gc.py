from __future__ import annotations

import pytest

from pyk8s.kubelet.cri.interface import CRIError, Image, ImageFsInfo
from pyk8s.kubelet.cri.runc.images.gc import ImageGCPolicy, ImageUsage, collect_images, plan_image_gc

NOW = 1_000_000.0
GB = 1_000_000_000


def usage(i: str, size: int, last_used: float, **kw: object) -> ImageUsage:
    return ImageUsage(id=i, size=size, first_detected=NOW - 3600, last_used=last_used, **kw)  # type: ignore[arg-type]


def test_below_high_threshold_deletes_nothing() -> None:
    plan = plan_image_gc([usage("a", GB, NOW - 100)], capacity=100 * GB, available=16 * GB,
                         policy=ImageGCPolicy(), now=NOW)
    assert plan.delete == [] and plan.bytes_to_free == 0


def test_lru_until_low_threshold() -> None:
    images = [usage("new", 3 * GB, NOW - 10), usage("old", 2 * GB, NOW - 1000), usage("mid", 2 * GB, NOW - 500),
              usage("used", 50 * GB, NOW - 5000, in_use=True), usage("pinned", 50 * GB, NOW - 5000, pinned=True)]
    # usage 86% ≥ 85: free down to 80% → 6 GB to free
    plan = plan_image_gc(images, capacity=100 * GB, available=14 * GB, policy=ImageGCPolicy(), now=NOW)
    assert plan.bytes_to_free == 6 * GB
    assert plan.delete == ["old", "mid", "new"]
    assert plan.bytes_freed == 7 * GB


def test_min_age_keeps_fresh_images_and_max_age_removes_old() -> None:
    fresh = ImageUsage(id="fresh", size=10 * GB, first_detected=NOW - 30, last_used=NOW - 30)
    plan = plan_image_gc([fresh], capacity=100 * GB, available=10 * GB, policy=ImageGCPolicy(), now=NOW)
    assert plan.delete == [] and plan.bytes_to_free == 10 * GB
    stale = usage("stale", 1, NOW - 7200)
    plan = plan_image_gc([stale, usage("recent", 1, NOW - 60)], capacity=100 * GB, available=90 * GB,
                         policy=ImageGCPolicy(max_age_seconds=3600), now=NOW)
    assert plan.delete == ["stale"]


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="can not be higher"):
        ImageGCPolicy(high_threshold_percent=70, low_threshold_percent=80).validate()
    with pytest.raises(CRIError, match="invalid capacity 0"):
        plan_image_gc([], capacity=0, available=0, policy=ImageGCPolicy(), now=NOW)


class FakeStore:
    def __init__(self) -> None:
        self.images = {"sha256:a": Image(id="sha256:a", size=5 * GB), "sha256:b": Image(id="sha256:b", size=GB)}
        self.removed: list[str] = []

    async def list_images(self) -> list[Image]:
        return list(self.images.values())

    async def remove_image(self, ref: str) -> None:
        self.removed.append(ref)
        self.images.pop(ref)

    async def image_fs_info(self) -> ImageFsInfo:
        return ImageFsInfo(mountpoint="/", used_bytes=0, capacity_bytes=100 * GB, available_bytes=10 * GB)

    def usage_times(self) -> dict[str, tuple[float, float]]:
        return {"sha256:a": (NOW - 3600, NOW - 100), "sha256:b": (NOW - 3600, NOW - 50)}


async def test_collect_applies_plan_and_reports_shortfall() -> None:
    store = FakeStore()
    with pytest.raises(CRIError, match="Attempted to free 10000000000 bytes, but only found 5000000000 bytes"):
        await collect_images(store, in_use=lambda i: i == "sha256:b", now=NOW)
    assert store.removed == ["sha256:a"]
