"""The server-side Table printers behind ``kubectl get``: column definitions and row cells per resource.

The apiserver renders every row with all columns (upstream renders "wide" and kubectl hides
priority-1 columns unless ``-o wide``). Resources without a printer get upstream's default table:
``Name`` and ``Created At``. Cells carry the JSON types upstream's printers put in them, which in a
few places (listed in the tests) differ from the column's declared type, exactly as on a real cluster.
"""

from __future__ import annotations

import datetime
from typing import Any

from pyk8s.api.printers import apps, batch, core, other
from pyk8s.api.printers.common import META, NAME, Column, FieldDoc, Obj, Printer, created_at, name_of
from pyk8s.api.printers.duration import parse_timestamp

__all__ = ["columns_for", "has_printer", "row_cells", "row_conditions"]

_PRINTERS: dict[tuple[str, str], Printer] = {**core.PRINTERS, **apps.PRINTERS, **batch.PRINTERS, **other.PRINTERS}

_DEFAULT_COLUMNS = (
    NAME,
    Column("Created At", "date", FieldDoc(META, "creationTimestamp")),
)

_GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def has_printer(group: str, plural: str) -> bool:
    """Whether the resource has its own printer (otherwise it gets the Name / Created At table)."""
    return (group, plural) in _PRINTERS


def columns_for(group: str, plural: str) -> list[dict[str, Any]]:
    """The ``columnDefinitions`` of the resource's Table, priority-1 (``-o wide``) columns included."""
    printer = _PRINTERS.get((group, plural))
    columns = printer.columns if printer is not None else _DEFAULT_COLUMNS
    return [c.definition() for c in columns]


def _default_cells(obj: Obj) -> list[Any]:
    created = parse_timestamp(created_at(obj))
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ") if created is not None else _GO_ZERO_TIME
    return [name_of(obj), stamp]


def row_cells(group: str, plural: str, obj: Obj, now: datetime.datetime) -> list[Any]:
    """The cells of ``obj``'s row, one per column of ``columns_for``; ages are measured at ``now``."""
    printer = _PRINTERS.get((group, plural))
    if printer is None:
        return _default_cells(obj)
    return printer.cells(obj, now)


def row_conditions(group: str, plural: str, obj: Obj) -> list[dict[str, Any]] | None:
    """The row's ``conditions`` (pods that Succeeded or Failed are ``Completed``), or None."""
    printer = _PRINTERS.get((group, plural))
    if printer is None or printer.conditions is None:
        return None
    return printer.conditions(obj)
