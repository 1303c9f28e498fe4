"""ImageLocality: prefer nodes that already have the pod's images, weighted by image size and by how widely
the image is spread (upstream plugins/imagelocality)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.scheduler.framework.interface import MAX_NODE_SCORE, Code, CycleState, Handle, Status
from pyk8s.scheduler.framework.types import NodeInfo, PodInfo

NAME = "ImageLocality"
PRE_SCORE_STATE_KEY = "PreScore" + NAME
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB

_SKIP = Status(Code.SKIP)


def normalized_image_name(name: str) -> str:
    """Append ":latest" when the reference has neither tag nor digest."""
    if name.rfind(":") <= name.rfind("/"):
        return name + ":latest"
    return name


def pod_images(pod: PodInfo) -> list[str]:
    spec = pod.pod.get("spec") or {}
    return [normalized_image_name(str(c.get("image") or ""))
            for c in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]]


def calculate_priority(sum_scores: int, num_containers: int) -> int:
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    if sum_scores < MIN_THRESHOLD:
        sum_scores = MIN_THRESHOLD
    elif sum_scores > max_threshold:
        sum_scores = max_threshold
    return MAX_NODE_SCORE * (sum_scores - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality:
    name = NAME
    scores_in_range = True

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        images = pod_images(pod)
        # No node has any of the images: every node would score 0.
        snapshot = self.handle.snapshot()
        if not any(snapshot.image_state(i) is not None for i in images):
            return _SKIP
        state.write(PRE_SCORE_STATE_KEY, images)
        return None

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status | None]:
        images = state.get(PRE_SCORE_STATE_KEY) or pod_images(pod)
        total_nodes = self.handle.snapshot().num_nodes() or 1
        out: list[int] = []
        for ni in nodes:
            s = 0
            for image in images:
                st = ni.image_states.get(image)
                if st is not None:
                    s += int(st.size * (st.num_nodes / total_nodes))
            out.append(calculate_priority(s, len(images)))
        return out, None

    def score_extensions(self) -> None:
        return None


def new(args: Mapping[str, Any], handle: Handle) -> ImageLocality:
    return ImageLocality(handle)
