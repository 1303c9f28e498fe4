"""A container's environment, computed from its pod spec as upstream's kubelet does (makeEnvironmentVariables).

Order of sources: `envFrom` (ConfigMaps and Secrets, each key with the optional prefix), then `env` in order
(a literal `value` is `$(VAR)`-expanded against the variables declared so far and the service variables; a
`valueFrom` is resolved from the pod's fields, the container's resources, a ConfigMap key or a Secret key),
then the service environment variables the container did not declare. A later declaration of a name replaces
the earlier value in place.

A reference that cannot be resolved and is not optional raises `CreateContainerConfigError` with the message
upstream's kubelet reports (`configmap "x" not found`, `couldn't find key k in ConfigMap ns/x`): the kubelet
shows it as the container's waiting reason CreateContainerConfigError.

`expand` is upstream's `$(VAR)` syntax (third_party/forked/golang/expansion), shared with command/args.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from pyk8s.api import errors
from pyk8s.api.quantity import Quantity, QuantityError
from pyk8s.client import kinds
from pyk8s.kubelet.objectcache import ObjectReader

Obj = dict[str, Any]


class CreateContainerConfigError(Exception):
    """The container's config cannot be built (a missing ConfigMap, Secret or key); str() is upstream's message."""


# ------------------------------------------------------------------------------------------------ $(VAR) expansion

def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Replace `$(NAME)` by lookup(NAME); `$$` is a literal `$`; unknown or unterminated references stay as written."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    n = len(text)
    while cursor < n:
        if text[cursor] == "$" and cursor + 1 < n:
            out.append(text[checkpoint:cursor])
            nxt = text[cursor + 1]
            advance = 1
            if nxt == "$":
                out.append("$")
            elif nxt == "(":
                close = text.find(")", cursor + 2)
                if close < 0:
                    out.append("$(")
                else:
                    name = text[cursor + 2:close]
                    value = lookup(name)
                    out.append(f"$({name})" if value is None else value)
                    advance = close - cursor
            else:
                out.append("$" + nxt)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def lookup_in(*contexts: Mapping[str, str]) -> Callable[[str], str | None]:
    """A lookup for `expand` that searches each mapping in turn (upstream's MappingFuncFor)."""
    def lookup(name: str) -> str | None:
        for ctx in contexts:
            if name in ctx:
                return ctx[name]
        return None
    return lookup


# ------------------------------------------------------------------------------------------------ field references

def format_map(values: Mapping[str, str]) -> str:
    """`k="v"` lines in key order, as the downward API renders metadata.labels / metadata.annotations."""
    return "\n".join(f"{k}={_go_quote(values[k])}" for k in sorted(values))


def _go_quote(value: str) -> str:
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _subscript(path: str, prefix: str) -> str | None:
    """The key of `metadata.labels['k']` (prefix "metadata.labels"), or None when the path is not that form."""
    if not path.startswith(prefix + "[") or not path.endswith("]"):
        return None
    inner = path[len(prefix) + 1:-1]
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return inner[1:-1]
    return None


def metadata_field_value(pod: Obj, path: str) -> str:
    """ExtractFieldPathAsString for the metadata paths the downward API allows; ValueError when unsupported."""
    m = pod.get("metadata") or {}
    if path == "metadata.name":
        return str(m.get("name") or "")
    if path == "metadata.namespace":
        return str(m.get("namespace") or "")
    if path == "metadata.uid":
        return str(m.get("uid") or "")
    if path == "metadata.labels":
        return format_map(m.get("labels") or {})
    if path == "metadata.annotations":
        return format_map(m.get("annotations") or {})
    for prefix, key in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        sub = _subscript(path, prefix)
        if sub is not None:
            return str((m.get(key) or {}).get(sub, ""))
    raise ValueError(f"unsupported fieldPath: {path}")


def pod_field_value(pod: Obj, path: str, *, pod_ips: list[str], host_ips: list[str]) -> str:
    """podFieldSelectorRuntimeValue: the value of an env fieldRef."""
    spec = pod.get("spec") or {}
    if path == "spec.nodeName":
        return str(spec.get("nodeName") or "")
    if path == "spec.serviceAccountName":
        return str(spec.get("serviceAccountName") or "")
    if path == "status.hostIP":
        return host_ips[0] if host_ips else ""
    if path == "status.hostIPs":
        return ",".join(host_ips)
    if path == "status.podIP":
        return pod_ips[0] if pod_ips else ""
    if path == "status.podIPs":
        return ",".join(pod_ips)
    return metadata_field_value(pod, path)


# ------------------------------------------------------------------------------------------------ resource references

_ALLOCATABLE_DEFAULTED = ("cpu", "memory", "ephemeral-storage")


def _quantity(value: Any) -> Quantity:
    try:
        return Quantity.from_json(value)
    except QuantityError:
        return Quantity(Decimal(0))


def resource_field_value(pod: Obj, container: Obj, ref: Obj, allocatable: Mapping[str, str]) -> str:
    """ExtractContainerResourceValue after defaulting unset limits to the node's allocatable; ValueError if bad.

    `ref` is a ResourceFieldSelector; its containerName (downward API volumes) picks the container.
    """
    target = container
    wanted = ref.get("containerName") or ""
    if wanted:
        spec = pod.get("spec") or {}
        found = [c for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
                 if c.get("name") == wanted]
        if not found:
            raise ValueError(f"container {wanted} not found")
        target = found[0]
    resources = target.get("resources") or {}
    limits = dict(resources.get("limits") or {})
    for name in _ALLOCATABLE_DEFAULTED:
        if _quantity(limits.get(name)).is_zero() and name in allocatable:
            limits[name] = allocatable[name]
    requests = dict(resources.get("requests") or {})
    for name, value in (resources.get("limits") or {}).items():
        requests.setdefault(name, value)  # the apiserver defaults requests to limits
    divisor = _quantity(ref.get("divisor"))
    if divisor.is_zero():
        divisor = Quantity(Decimal(1))
    name = str(ref.get("resource") or "")
    kind, _, res = name.partition(".")
    source = {"limits": limits, "requests": requests}.get(kind)
    if source is None or (res not in _ALLOCATABLE_DEFAULTED and not res.startswith("hugepages-")):
        raise ValueError(f"unsupported container resource : {name}")
    amount = _quantity(source.get(res))
    if res == "cpu":
        return str(math.ceil(amount.milli_value() / divisor.milli_value()))
    return str(math.ceil(amount.int_value() / divisor.int_value()))


# ------------------------------------------------------------------------------------------------ the environment

async def _get(client: ObjectReader, kind: str, name: str, namespace: str) -> Obj:
    """The ConfigMap or Secret, with NotFound worded as the kubelet's object managers word it."""
    resource = kinds.CONFIGMAPS if kind == "configmap" else kinds.SECRETS
    try:
        return await client.get(resource, name, namespace)
    except errors.NotFound:
        raise errors.NotFound(f'{kind} "{name}" not found') from None


def secret_data(secret: Obj) -> dict[str, bytes]:
    """A Secret's data, base64-decoded (stringData is merged by the apiserver, but honoured if present)."""
    out: dict[str, bytes] = {}
    for k, v in (secret.get("data") or {}).items():
        try:
            out[k] = base64.b64decode(v or "", validate=True)
        except (binascii.Error, ValueError):
            out[k] = str(v).encode()
    for k, v in (secret.get("stringData") or {}).items():
        out[k] = str(v).encode()
    return out


# envFrom source field -> object kind; valueFrom key-reference field -> (object kind, kind as upstream's messages say it)
_ENV_FROM = {"configMapRef": "configmap", "secretRef": "secret"}
_KEY_REFS = {"configMapKeyRef": ("configmap", "ConfigMap"), "secretKeyRef": ("secret", "Secret")}


def _valid_env_name(name: str) -> bool:
    """Relaxed environment variable names (printable ASCII except '=')."""
    return bool(name) and all(32 <= ord(c) <= 126 for c in name) and "=" not in name


async def container_env(pod: Obj, container: Obj, *, client: ObjectReader, pod_ip: str, host_ip: str, node_name: str,
                        service_env: list[tuple[str, str]] = [],  # noqa: B006 - read only
                        allocatable: Mapping[str, str] | None = None,
                        pod_ips: list[str] | None = None, host_ips: list[str] | None = None,
                        ) -> list[tuple[str, str]]:
    """The container's environment as (name, value) pairs, in declaration order.

    `allocatable` is the node's allocatable (cpu/memory/ephemeral-storage quantities) that resourceFieldRef
    limits default to; `pod_ips`/`host_ips` give every IP for status.podIPs/status.hostIPs (default: the one
    IP given). Raises CreateContainerConfigError for unresolvable non-optional references.
    """
    ns = (pod.get("metadata") or {}).get("namespace") or ""
    pod_view = pod
    if node_name and not (pod.get("spec") or {}).get("nodeName"):
        pod_view = {**pod, "spec": {**(pod.get("spec") or {}), "nodeName": node_name}}
    ips = list(pod_ips) if pod_ips else ([pod_ip] if pod_ip else [])
    hips = list(host_ips) if host_ips else ([host_ip] if host_ip else [])
    alloc = allocatable or {}
    env: dict[str, str] = {}
    services = dict(service_env)
    lookup = lookup_in(env, services)
    cache: dict[tuple[str, str], dict[str, str]] = {}

    async def values(kind: str, name: str) -> dict[str, str]:
        """A ConfigMap's data or a Secret's decoded data ("configmap" / "secret"), read once per call."""
        if (kind, name) not in cache:
            obj = await _get(client, kind, name, ns)
            cache[kind, name] = ({k: str(v) for k, v in (obj.get("data") or {}).items()} if kind == "configmap"
                                 else {k: v.decode(errors="replace") for k, v in secret_data(obj).items()})
        return cache[kind, name]

    async def optional_values(kind: str, ref: Obj) -> dict[str, str] | None:
        """The referenced object's values; None when it is missing and the reference is optional."""
        try:
            return await values(kind, str(ref.get("name") or ""))
        except errors.NotFound:
            if ref.get("optional"):
                return None
            raise

    try:
        for source in container.get("envFrom") or []:
            prefix = str(source.get("prefix") or "")
            kind, field = next(((k, f) for f, k in _ENV_FROM.items() if source.get(f) is not None), ("", ""))
            if not kind:
                continue
            found = await optional_values(kind, source[field])
            if found is None:
                continue
            for key in sorted(found):
                if _valid_env_name(prefix + key):
                    env[prefix + key] = found[key]

        for var in container.get("env") or []:
            name = str(var.get("name") or "")
            value_from = var.get("valueFrom")
            if value_from is None or var.get("value"):
                env[name] = expand(str(var.get("value") or ""), lookup)
                continue
            if value_from.get("fieldRef") is not None:
                path = str(value_from["fieldRef"].get("fieldPath") or "")
                try:
                    env[name] = pod_field_value(pod_view, path, pod_ips=ips, host_ips=hips)
                except ValueError as e:
                    raise CreateContainerConfigError(str(e)) from None
            elif value_from.get("resourceFieldRef") is not None:
                try:
                    env[name] = resource_field_value(pod, container, value_from["resourceFieldRef"], alloc)
                except ValueError as e:
                    raise CreateContainerConfigError(str(e)) from None
            elif (field := next((f for f in _KEY_REFS if value_from.get(f) is not None), "")):
                kind, what = _KEY_REFS[field]
                ref = value_from[field]
                key = str(ref.get("key") or "")
                found = await optional_values(kind, ref)
                if found is None:
                    continue
                if key in found:
                    env[name] = found[key]
                elif not ref.get("optional"):
                    raise CreateContainerConfigError(f"couldn't find key {key} in {what} {ns}/{ref.get('name') or ''}")
            else:
                env[name] = ""
    except errors.StatusError as e:
        raise CreateContainerConfigError(e.message) from None

    result = list(env.items())
    result.extend((k, v) for k, v in service_env if k not in env)
    return result
