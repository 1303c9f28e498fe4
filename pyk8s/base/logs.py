"""klog-style logging: ``-v N`` verbosity mapped onto stdlib logging levels."""

from __future__ import annotations

import logging
import sys


def level_for(verbosity: int) -> int:
    """-v 0..1 -> INFO-ish quiet, 2..3 -> INFO, 4+ -> DEBUG (klog: 2 steady state, 4 per-event detail)."""
    if verbosity >= 4:
        return logging.DEBUG
    if verbosity >= 2:
        return logging.INFO
    return logging.WARNING


def setup(verbosity: int = 0, component: str = "") -> None:
    fmt = "%(levelname).1s%(asctime)s " + (f"{component} " if component else "") + "%(name)s] %(message)s"
    logging.basicConfig(stream=sys.stderr, level=level_for(verbosity), format=fmt, datefmt="%m%d %H:%M:%S")
