#!/usr/bin/env python3
"""Generate pyk8s/api/protobuf_fields.json: our table of Kubernetes protobuf field facts.

kubectl >= 1.32 sends typed writes as ``application/vnd.kubernetes.protobuf``. Decoding them needs, for every
message reachable from the kinds we accept, the field numbers and wire types (from upstream's ``generated.proto``
files) and how the same Go struct serialises to JSON (from the ``json:"..."`` tags and pointer-ness in the Go type
definitions: JSON name, ``omitempty``, ``omitzero``, inline embedding). This script reads both from git directories
of k8s.io/api and k8s.io/apimachinery (e.g. mirrors without a work tree) or from plain checkouts, and writes the
reachability closure in the compact shape ``pyk8s.api.protobuf`` reads. The .proto and .go files themselves are
never copied into the project.

Usage:
    python tools/gen_proto_table.py --api /path/to/kubernetes/api --apimachinery /path/to/kubernetes/apimachinery \
        [--ref v0.33.13] [--out pyk8s/api/protobuf_fields.json]

Output shape (see also the module docstring of pyk8s/api/protobuf.py):
    {
      "source":        {"k8s.io/api": REF, "k8s.io/apimachinery": REF},
      "groupVersions": {"apps/v1": "k8s.io.api.apps.v1", "v1": "k8s.io.api.core.v1", ...},
      "kinds":         [fully qualified message names accepted as top-level objects],
      "lists":         [messages whose Go type is a named slice: JSON is the array of their field 1],
      "messages":      {FQN: {"<field number>": [jsonName, label, type, flags], ...}, ...}
    }
    label: "o" optional (proto2 singular), "r" repeated, "m" map (then type is [keyType, valueType]);
    type:  a proto scalar name (string, int32, int64, bool, bytes, double, ...) or a fully qualified message name;
    flags: letters describing the Go field: "p" pointer (nil unless set), "e" json omitempty, "z" json omitzero,
           "i" embedded struct inlined into the parent's JSON, "x" not serialised to JSON (json:"-").
    Fields of a message are listed in Go declaration order (the order Go writes JSON keys).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import deque
from dataclasses import dataclass, field

API_PACKAGES = [
    "core/v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "rbac/v1", "scheduling/v1", "policy/v1",
    "authorization/v1", "authentication/v1", "coordination/v1", "discovery/v1", "certificates/v1", "events/v1",
]
APIMACHINERY_PACKAGES = [
    "pkg/apis/meta/v1", "pkg/api/resource", "pkg/util/intstr", "pkg/runtime", "pkg/runtime/schema",
]

# Top-level kinds a request body may carry (closure roots), by proto package suffix.
ROOT_KINDS: dict[str, list[str]] = {
    "k8s.io.api.core.v1": [
        "Pod", "Service", "Endpoints", "Node", "Event", "ConfigMap", "Secret", "Namespace", "ServiceAccount",
        "ResourceQuota", "LimitRange", "PersistentVolumeClaim", "PersistentVolume", "Binding",
    ],
    "k8s.io.api.apps.v1": ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ControllerRevision"],
    "k8s.io.api.batch.v1": ["Job", "CronJob"],
    "k8s.io.api.autoscaling.v1": ["HorizontalPodAutoscaler", "Scale"],
    "k8s.io.api.autoscaling.v2": ["HorizontalPodAutoscaler"],
    "k8s.io.api.rbac.v1": ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"],
    "k8s.io.api.scheduling.v1": ["PriorityClass"],
    "k8s.io.api.policy.v1": ["PodDisruptionBudget", "Eviction"],
    "k8s.io.api.authorization.v1": [
        "SelfSubjectAccessReview", "SelfSubjectRulesReview", "SubjectAccessReview", "LocalSubjectAccessReview",
    ],
    "k8s.io.api.authentication.v1": ["TokenRequest", "TokenReview", "SelfSubjectReview"],
    "k8s.io.api.coordination.v1": ["Lease"],
    "k8s.io.api.discovery.v1": ["EndpointSlice"],
    "k8s.io.api.certificates.v1": ["CertificateSigningRequest"],
    "k8s.io.api.events.v1": ["Event"],
    "k8s.io.apimachinery.pkg.apis.meta.v1": ["DeleteOptions", "Status"],
}

# Messages pyk8s.api.protobuf converts by hand; their Go structs carry no usable tags, so no warnings for them.
HAND_CONVERTED = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time", "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration", "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "k8s.io.apimachinery.pkg.api.resource.Quantity", "k8s.io.apimachinery.pkg.util.intstr.IntOrString",
    "k8s.io.apimachinery.pkg.runtime.RawExtension",
}

SCALARS = {
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64",
    "sfixed32", "sfixed64", "bool", "string", "bytes",
}


class Source:
    """Reads files of one repository at one ref: a git directory (bare or mirror) or a plain checkout."""

    def __init__(self, path: str, ref: str) -> None:
        self.path = path
        self.ref = ref
        self.is_git = os.path.isfile(os.path.join(path, "HEAD")) and os.path.isdir(os.path.join(path, "objects"))
        if not self.is_git and os.path.isdir(os.path.join(path, ".git")) and ref:
            # A work tree: read the ref from its repository so the result does not depend on local edits.
            self.path = os.path.join(path, ".git")
            self.is_git = True

    def _git(self, *args: str) -> str:
        out = subprocess.run(["git", "--git-dir", self.path, *args], check=True, capture_output=True, text=True)
        return out.stdout

    def read(self, rel: str) -> str:
        if self.is_git:
            return self._git("show", f"{self.ref}:{rel}")
        with open(os.path.join(self.path, rel), encoding="utf-8") as fh:
            return fh.read()

    def list_dir(self, rel: str) -> list[str]:
        if self.is_git:
            names = self._git("ls-tree", "--name-only", f"{self.ref}:{rel}").split()
        else:
            names = sorted(os.listdir(os.path.join(self.path, rel)))
        return names


# ---- .proto parsing ---------------------------------------------------------------------------------------------

@dataclass
class ProtoField:
    name: str
    number: int
    label: str  # "o", "r" or "m"
    type: str  # scalar or fully-qualified message; for maps the value type
    key_type: str = ""


@dataclass
class ProtoMessage:
    fqn: str
    fields: dict[int, ProtoField] = field(default_factory=dict)


_COMMENT_RE = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_IMPORT_RE = re.compile(r'^\s*import\s+"([^"]+)"\s*;', re.M)
_PACKAGE_RE = re.compile(r"^\s*package\s+([\w.]+)\s*;", re.M)
_MESSAGE_RE = re.compile(r"\bmessage\s+(\w+)\s*\{")
_FIELD_RE = re.compile(r"^\s*(optional|repeated|required)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*(?:\[[^\]]*\])?\s*;")
_MAP_RE = re.compile(r"^\s*map\s*<\s*([\w.]+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)\s*(?:\[[^\]]*\])?\s*;")


def _qualify(type_name: str, package: str) -> str:
    if type_name in SCALARS:
        return type_name
    if type_name.startswith("."):
        return type_name[1:]
    if "." in type_name:
        return type_name
    return f"{package}.{type_name}"


def parse_proto(text: str) -> dict[str, ProtoMessage]:
    """Top-level messages of one generated.proto (go-to-protobuf emits no nested messages or enums)."""
    text = _COMMENT_RE.sub("", text)
    pkg_match = _PACKAGE_RE.search(text)
    if not pkg_match:
        raise ValueError("proto file without a package statement")
    package = pkg_match.group(1)
    messages: dict[str, ProtoMessage] = {}
    for match in _MESSAGE_RE.finditer(text):
        depth, pos = 1, match.end()
        while depth:
            ch = text[pos]
            depth += ch == "{"
            depth -= ch == "}"
            pos += 1
        body = text[match.end():pos - 1]
        if _MESSAGE_RE.search(body):
            raise ValueError(f"nested message inside {match.group(1)} is not supported")
        msg = ProtoMessage(f"{package}.{match.group(1)}")
        for line in body.split(";"):
            line = line.strip() + ";"
            if line == ";":
                continue
            if m := _FIELD_RE.match(line):
                label = "r" if m.group(1) == "repeated" else "o"
                pf = ProtoField(m.group(3), int(m.group(4)), label, _qualify(m.group(2), package))
            elif m := _MAP_RE.match(line):
                pf = ProtoField(m.group(3), int(m.group(4)), "m", _qualify(m.group(2), package),
                                key_type=_qualify(m.group(1), package))
            elif line.startswith(("option ", "reserved ")):
                continue
            else:
                raise ValueError(f"unparsed line in {msg.fqn}: {line!r}")
            if pf.number in msg.fields:
                raise ValueError(f"duplicate field number {pf.number} in {msg.fqn}")
            msg.fields[pf.number] = pf
        messages[msg.fqn] = msg
    return messages


def parse_group_name(go_source: str) -> str | None:
    """The API group of a Go package: its ``+groupName=`` marker or its ``GroupName`` constant."""
    m = re.search(r"^//\s*\+groupName=([\w.\-]*)\s*$", go_source, re.M)
    if not m:
        m = re.search(r'^const\s+GroupName\s*=\s*"([\w.\-]*)"', go_source, re.M)
    return m.group(1) if m else None


# ---- Go type parsing ----------------------------------------------------------------------------------------------

@dataclass
class GoField:
    go_name: str
    go_type: str
    embedded: bool
    json_name: str | None  # None: json:"-"
    omitempty: bool
    omitzero: bool
    number: int | None  # protobuf tag number


_STRUCT_RE = re.compile(r"^type\s+(\w+)\s+struct\s*\{[ \t]*\n(.*?)^\}", re.S | re.M)
_SLICE_TYPE_RE = re.compile(r"^type\s+(\w+)\s+\[\]([\w.*]+)\s*$", re.M)
_NAMED_FIELD_RE = re.compile(r"^(\w+)\s+([^\s`]+)\s*(?:`([^`]*)`)?")
_EMBEDDED_FIELD_RE = re.compile(r"^(\*?[\w.]+)\s*(?:`([^`]*)`)?\s*$")
_TAG_RE = re.compile(r'(\w+):"([^"]*)"')


def _parse_go_field(line: str) -> GoField | None:
    """One line of a struct body: ``Name Type `tags` // comment`` or an embedded ``Type `tags```."""
    if "`" in line:
        line = line[: line.rindex("`") + 1]
    else:
        line = re.sub(r"//.*$", "", line).strip()
    if not line:
        return None
    if m := _NAMED_FIELD_RE.match(line):
        go_name, go_type, tag, embedded = m.group(1), m.group(2), m.group(3) or "", False
    elif em := _EMBEDDED_FIELD_RE.match(line):
        go_type, tag, embedded = em.group(1), em.group(2) or "", True
        go_name = go_type.lstrip("*").split(".")[-1]
    else:
        return None
    tags = dict(_TAG_RE.findall(tag))
    json_parts = tags["json"].split(",") if "json" in tags else [""]
    json_name: str | None = json_parts[0]
    if json_name == "-" and len(json_parts) == 1:
        json_name = None
    elif json_name == "" and not embedded:
        json_name = go_name
    number = None
    if proto := tags.get("protobuf"):
        parts = proto.split(",")
        if len(parts) > 1 and parts[1].isdigit():
            number = int(parts[1])
    return GoField(go_name, go_type, embedded, json_name, "omitempty" in json_parts[1:], "omitzero" in json_parts[1:],
                   number)


def parse_go_types(text: str) -> tuple[dict[str, list[GoField]], set[str]]:
    """Struct definitions (fields in declaration order) and the names of named slice types."""
    structs: dict[str, list[GoField]] = {}
    for m in _STRUCT_RE.finditer(text):
        fields = []
        for line in m.group(2).splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith("//"):
                continue
            gf = _parse_go_field(stripped)
            if gf is not None:
                fields.append(gf)
        structs[m.group(1)] = fields
    slices = {m.group(1) for m in _SLICE_TYPE_RE.finditer(text)}
    return structs, slices


# ---- assembly -----------------------------------------------------------------------------------------------------

def _go_sources(src: Source, pkg_dir: str) -> str:
    parts = []
    for name in src.list_dir(pkg_dir):
        if not name.endswith(".go") or name.endswith("_test.go") or name.startswith("zz_generated"):
            continue
        if name in {"generated.pb.go", "types_swagger_doc_generated.go"}:
            continue
        parts.append(src.read(f"{pkg_dir}/{name}"))
    return "\n".join(parts)


def build_table(api: Source, apimachinery: Source) -> dict[str, object]:
    messages: dict[str, ProtoMessage] = {}
    go_structs: dict[str, list[GoField]] = {}  # by message FQN
    list_messages: set[str] = set()
    group_versions: dict[str, str] = {}
    repos = {"k8s.io/api/": api, "k8s.io/apimachinery/": apimachinery}
    # The listed packages, then whatever their .proto files import from the same two repositories.
    pending: deque[tuple[Source, str, bool]] = deque(
        [(api, p, True) for p in API_PACKAGES] + [(apimachinery, p, p == "pkg/apis/meta/v1")
                                                  for p in APIMACHINERY_PACKAGES])
    loaded: set[tuple[str, str]] = set()
    while pending:
        src, pkg_dir, serves_group = pending.popleft()
        if (src.path, pkg_dir) in loaded:
            continue
        loaded.add((src.path, pkg_dir))
        proto_text = src.read(f"{pkg_dir}/generated.proto")
        for imported in _IMPORT_RE.findall(proto_text):
            for prefix, repo in repos.items():
                if imported.startswith(prefix) and imported.endswith("/generated.proto"):
                    pending.append((repo, imported[len(prefix):-len("/generated.proto")], False))
        parsed = parse_proto(proto_text)
        if not parsed:
            continue
        package = next(iter(parsed)).rsplit(".", 1)[0]
        messages.update(parsed)
        go_source = _go_sources(src, pkg_dir)
        structs, slices = parse_go_types(go_source)
        for fqn in parsed:
            short = fqn.rsplit(".", 1)[1]
            if short in structs:
                go_structs[fqn] = structs[short]
            elif short in slices:
                list_messages.add(fqn)
        group = parse_group_name(go_source) if serves_group else None
        if group is not None:
            version = pkg_dir.rsplit("/", 1)[1]
            group_versions[f"{group}/{version}" if group else version] = package

    roots = [f"{pkg}.{kind}" for pkg, kinds in ROOT_KINDS.items() for kind in kinds]
    seen: set[str] = set()
    queue = deque(roots)
    while queue:
        fqn = queue.popleft()
        if fqn in seen:
            continue
        if fqn not in messages:
            raise SystemExit(f"message {fqn} not found in the parsed .proto files")
        seen.add(fqn)
        for pf in messages[fqn].fields.values():
            if pf.type not in SCALARS:
                queue.append(pf.type)

    table: dict[str, dict[str, list[object]]] = {}
    for fqn in sorted(seen):
        msg = messages[fqn]
        go_fields = go_structs.get(fqn, [])
        by_number = {gf.number: gf for gf in go_fields if gf.number is not None}
        entries: dict[str, list[object]] = {}
        ordered = [gf.number for gf in go_fields if gf.number in msg.fields]
        ordered += sorted(n for n in msg.fields if n not in ordered)
        for number in ordered:
            pf = msg.fields[number]
            gf = by_number.get(number)
            if gf is None:
                if fqn not in HAND_CONVERTED and fqn not in list_messages:
                    print(f"warning: no Go field for {fqn} #{number} ({pf.name}); assuming omitempty", file=sys.stderr)
                json_name: str | None = pf.name
                flags = "e"
            else:
                json_name = gf.json_name
                flags = ""
                if gf.go_type.startswith("*"):
                    flags += "p"
                if gf.omitempty:
                    flags += "e"
                if gf.omitzero:
                    flags += "z"
                if gf.embedded and not json_name:
                    flags += "i"
                    json_name = ""
                if json_name is None:
                    flags += "x"
                    json_name = pf.name
            type_value: object = [pf.key_type, pf.type] if pf.label == "m" else pf.type
            entries[str(number)] = [json_name, pf.label, type_value, flags]
        table[fqn] = entries

    return {
        "source": {"k8s.io/api": api.ref, "k8s.io/apimachinery": apimachinery.ref},
        "groupVersions": dict(sorted(group_versions.items())),
        "kinds": roots,
        "lists": sorted(list_messages & seen),
        "messages": table,
    }


def write_table(table: dict[str, object], out: str) -> None:
    """One message per line: small, and diffs show which messages changed."""
    messages = table["messages"]
    assert isinstance(messages, dict)
    lines = ["{"]
    for key in ("source", "groupVersions", "kinds", "lists"):
        lines.append(f"{json.dumps(key)}: {json.dumps(table[key], separators=(',', ':'))},")
    lines.append('"messages": {')
    items = list(messages.items())
    for i, (fqn, entries) in enumerate(items):
        sep = "," if i < len(items) - 1 else ""
        lines.append(f"{json.dumps(fqn)}: {json.dumps(entries, separators=(',', ':'))}{sep}")
    lines.append("}}")
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, help="git dir or checkout of k8s.io/api (github.com/kubernetes/api)")
    parser.add_argument("--apimachinery", required=True, help="git dir or checkout of k8s.io/apimachinery")
    parser.add_argument("--ref", default="v0.33.13", help="tag or commit to read in both repositories")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "pyk8s", "api",
                                                      "protobuf_fields.json"))
    args = parser.parse_args(argv)
    table = build_table(Source(args.api, args.ref), Source(args.apimachinery, args.ref))
    write_table(table, args.out)
    messages = table["messages"]
    assert isinstance(messages, dict)
    print(f"wrote {len(messages)} messages to {os.path.normpath(args.out)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
