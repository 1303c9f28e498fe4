"""rbac.authorization.k8s.io/v1 defaulting: roleRef and subject API groups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from pyk8s.api.defaults.core import Obj, dicts, obj_at

RBAC_GROUP: Final = "rbac.authorization.k8s.io"


def binding(obj: Obj) -> None:
    ref = obj_at(obj, "roleRef")
    if not ref.get("apiGroup"):
        ref["apiGroup"] = RBAC_GROUP
    for subject in dicts(obj.get("subjects")):
        if not subject.get("apiGroup"):
            if subject.get("kind") == "ServiceAccount":
                subject["apiGroup"] = ""
            elif subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = RBAC_GROUP


DEFAULTERS: Final[dict[str, Callable[[Obj], None]]] = {"RoleBinding": binding, "ClusterRoleBinding": binding}
