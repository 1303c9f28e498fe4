"""Building blocks shared by the per-group printers: column and printer records, and the small
cell formatters upstream's printers reuse (label maps, label selectors, container lists).

Column descriptions are upstream's: the swagger doc of the field a column shows, read from the
Kubernetes schemas via ``pyk8s.api.schema`` so they are never hand-copied.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyk8s.api import schema
from pyk8s.api.printers.duration import translate_timestamp_since

Obj = dict[str, Any]
Cells = list[Any]
CellsFn = Callable[[Obj, datetime.datetime], Cells]
ConditionsFn = Callable[[Obj], "list[Obj] | None"]

NONE = "<none>"
UNSET = "<unset>"

META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@dataclass(frozen=True, slots=True)
class FieldDoc:
    """The description of ``field`` in schema definition ``definition`` (what upstream's SwaggerDoc() returns)."""

    definition: str
    field: str

    def text(self) -> str:
        defn = schema.definitions().get(self.definition) or {}
        prop = (defn.get("properties") or {}).get(self.field) or {}
        return str(prop.get("description") or "")


@dataclass(frozen=True, slots=True)
class Column:
    """One ``TableColumnDefinition``; ``description`` is literal text or a field's schema doc."""

    name: str
    type: str
    description: str | FieldDoc
    priority: int = 0
    format: str = ""

    def definition(self) -> Obj:
        desc = self.description.text() if isinstance(self.description, FieldDoc) else self.description
        return {"name": self.name, "type": self.type, "format": self.format, "description": desc,
                "priority": self.priority}


@dataclass(frozen=True, slots=True)
class Printer:
    """Columns, the cells of one object's row, and (optionally) the row's conditions."""

    columns: tuple[Column, ...]
    cells: CellsFn
    conditions: ConditionsFn | None = None


# Columns almost every printer starts or ends with.
NAME = Column("Name", "string", FieldDoc(META, "name"), format="name")
AGE = Column("Age", "string", FieldDoc(META, "creationTimestamp"))
CONTAINERS = Column("Containers", "string", "Names of each container in the template.", priority=1)
IMAGES = Column("Images", "string", "Images referenced by each container in the template.", priority=1)


def core(kind: str) -> str:
    return f"io.k8s.api.core.v1.{kind}"


def workload_columns(spec: str) -> tuple[Column, ...]:
    """What every pod-template workload's table ends with: Age, then wide Containers, Images and the
    Selector column described by ``spec``'s ``selector`` field."""
    return AGE, CONTAINERS, IMAGES, Column("Selector", "string", FieldDoc(spec, "selector"), priority=1)


def get(obj: Any, *path: str) -> Any:
    """``obj[path[0]][path[1]]...`` or None when any step is missing or not a dict."""
    cur = obj
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur


def as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return default
    return default


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def name_of(obj: Obj) -> str:
    return str(get(obj, "metadata", "name") or "")


def created_at(obj: Obj) -> Any:
    return get(obj, "metadata", "creationTimestamp")


def is_deleting(obj: Obj) -> bool:
    return bool(get(obj, "metadata", "deletionTimestamp"))


def condition_true(conditions: Any, ctype: str) -> bool:
    """Whether the first condition of ``ctype`` has status True."""
    for cond in as_list(conditions):
        cond = as_dict(cond)
        if cond.get("type") == ctype:
            return cond.get("status") == "True"
    return False


def join_limited(items: list[str], limit: int, sep: str = ",") -> str:
    """The first ``limit`` items joined with ``sep``, then `` + N more...`` for the rest."""
    text = sep.join(items[:limit])
    if len(items) > limit:
        return f"{text} + {len(items) - limit} more..."
    return text


def format_labels(labels: Any) -> str:
    """``labels.FormatLabels``: ``k=v`` sorted by key, joined with commas; ``<none>`` when empty."""
    pairs = as_dict(labels)
    if not pairs:
        return NONE
    return ",".join(f"{k}={pairs[k]}" for k in sorted(pairs))


_SELECTOR_OPERATORS = {"In": " in ", "NotIn": " notin "}


class InvalidSelector(ValueError):
    """A LabelSelector that upstream's LabelSelectorAsSelector rejects."""


def selector_string(selector: Any) -> str:
    """``LabelSelectorAsSelector(sel).String()``: requirements sorted by key, values of in/notin sorted.

    A missing or empty selector gives ``""``.
    """
    if not isinstance(selector, dict):
        return ""
    requirements: list[tuple[str, str]] = []
    for key, value in as_dict(selector.get("matchLabels")).items():
        requirements.append((str(key), f"{key}={value}"))
    for expr in as_list(selector.get("matchExpressions")):
        expr = as_dict(expr)
        key = str(expr.get("key") or "")
        op = expr.get("operator")
        values = sorted(str(v) for v in as_list(expr.get("values")))
        if op in _SELECTOR_OPERATORS:
            if not values:
                raise InvalidSelector(f"for '{op}' operator, values set can't be empty")
            requirements.append((key, f"{key}{_SELECTOR_OPERATORS[op]}({','.join(values)})"))
        elif op == "Exists":
            requirements.append((key, key))
        elif op == "DoesNotExist":
            requirements.append((key, "!" + key))
        else:
            raise InvalidSelector(f"{op!r} is not a valid label selector operator")
    requirements.sort(key=lambda r: r[0])
    return ",".join(text for _, text in requirements)


def format_label_selector(selector: Any) -> str:
    """``metav1.FormatLabelSelector``: the selector string, ``<none>`` when empty, ``<error>`` when invalid."""
    try:
        text = selector_string(selector)
    except InvalidSelector:
        return "<error>"
    return text or NONE


def container_cells(containers: Any) -> tuple[str, str]:
    """Container names and images, each joined with commas (``layoutContainerCells``)."""
    items = [as_dict(c) for c in as_list(containers)]
    return ",".join(str(c.get("name") or "") for c in items), ",".join(str(c.get("image") or "") for c in items)


def template_containers(obj: Obj) -> tuple[str, str]:
    """``container_cells`` of the pod template at ``spec.template``."""
    return container_cells(get(obj, "spec", "template", "spec", "containers"))


def replica_printer(spec_def: str, status_def: str, format_selector: Callable[[Any], str]) -> Printer:
    """The printer ReplicaSets and ReplicationControllers share: ``spec_def``/``status_def`` name the kind's
    schema definitions, ``format_selector`` prints its selector (a LabelSelector or a plain label map)."""
    columns = (
        NAME,
        Column("Desired", "integer", FieldDoc(spec_def, "replicas")),
        Column("Current", "integer", FieldDoc(status_def, "replicas")),
        Column("Ready", "integer", FieldDoc(status_def, "readyReplicas")),
        *workload_columns(spec_def),
    )

    def cells(obj: Obj, now: datetime.datetime) -> Cells:
        spec = as_dict(obj.get("spec"))
        status = as_dict(obj.get("status"))
        names, images = template_containers(obj)
        return [
            name_of(obj), as_int(spec.get("replicas"), 1), as_int(status.get("replicas")),
            as_int(status.get("readyReplicas")), translate_timestamp_since(created_at(obj), now),
            names, images, format_selector(spec.get("selector")),
        ]

    return Printer(columns, cells)


def print_bool_ptr(value: Any) -> str:
    """``printBoolPtr``: ``True``/``False``, ``<unset>`` when nil."""
    if value is None:
        return UNSET
    return "True" if value else "False"


def int_or_string(value: Any) -> str:
    """``intstr.IntOrString.String()``."""
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


def quantity(value: Any) -> str:
    """A Quantity as text; the zero Quantity prints ``0`` (upstream reads missing map keys as zero)."""
    if value is None or value == "":
        return "0"
    return str(value)


def quantity_ptr(value: Any) -> str:
    """``(*resource.Quantity).String()``, which prints ``<nil>`` for a nil pointer."""
    if value is None:
        return "<nil>"
    return str(value)
