"""Server-side Table responses (meta.k8s.io/v1 Table), which give `kubectl get` its columns."""

from __future__ import annotations

import datetime
from typing import Any

from pyk8s.api import printers
from pyk8s.api.resources import Resource

Obj = dict[str, Any]


def row_object(obj: Obj, include_object: str) -> Obj | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def include_object_option(value: str | None) -> str:
    return value if value in ("None", "Object", "Metadata") else "Metadata"


def list_meta(resource_version: str, continue_token: str = "", remaining: int | None = None) -> Obj:
    """ListMeta: resourceVersion, plus continue and remainingItemCount for a page that is not the last."""
    md: Obj = {"resourceVersion": resource_version}
    if continue_token:
        md["continue"] = continue_token
        if remaining is not None:
            md["remainingItemCount"] = remaining
    return md


def table(r: Resource, objs: list[Obj], *, resource_version: str, continue_token: str = "",
          include_object: str = "Metadata", with_columns: bool = True, remaining: int | None = None,
          now: datetime.datetime | None = None) -> Obj:
    when = now or datetime.datetime.now(datetime.UTC)
    rows = []
    for obj in objs:
        row: Obj = {"cells": printers.row_cells(r.group, r.plural, obj, when)}
        conditions = printers.row_conditions(r.group, r.plural, obj)
        if conditions:
            row["conditions"] = conditions
        ro = row_object(obj, include_object)
        if ro is not None:
            row["object"] = ro
        rows.append(row)
    out: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                "metadata": list_meta(resource_version, continue_token, remaining)}
    out["columnDefinitions"] = printers.columns_for(r.group, r.plural) if with_columns else []
    out["rows"] = rows
    return out


def partial_metadata_list(objs: list[Obj], resource_version: str, continue_token: str = "",
                          remaining: int | None = None) -> Obj:
    md = list_meta(resource_version, continue_token, remaining)
    return {
        "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": md,
        "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.get("metadata", {})}
                  for o in objs],
    }
