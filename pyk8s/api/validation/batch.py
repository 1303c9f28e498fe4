"""batch/v1 validation: Job and CronJob (k8s.io/kubernetes pkg/apis/batch/validation).

The CronJob schedule is checked by a small parser that accepts exactly what robfig/cron's
``ParseStandard`` (used upstream) accepts -- five fields or an ``@`` descriptor -- and reports its
error texts, e.g. ``expected exactly 5 fields, found 1: [foo]``.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Any, Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation import pod as vp
from pyk8s.api.validation.common import Errs, Obj

SPEC: Final = Path.of("spec")
CONTROLLER_UID_LABEL: Final = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL: Final = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL: Final = "controller-uid"
LEGACY_JOB_NAME_LABEL: Final = "job-name"
_MAX_PARALLELISM_INDEXED: Final = 100_000
_MAX_FAILED_INDEXES: Final = 100_000
_MAX_MANAGED_BY: Final = 63
_ACTIONS: Final = ["Count", "FailIndex", "FailJob", "Ignore"]

# ---------------------------------------------------------------- cron schedule (robfig/cron v3 semantics)

_BOUNDS: Final[tuple[tuple[int, int, dict[str, int]], ...]] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (
        1,
        12,
        {
            m: n + 1
            for n, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
        },
    ),
    (0, 6, {d: n for n, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}),
)
_DESCRIPTORS: Final = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_GO_DURATION: Final = re.compile(r"^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$")


class CronError(ValueError):
    pass


def _atoi(expr: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", expr):
        raise CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax')
    num = int(expr)
    if num < 0:
        raise CronError(f"negative number ({num}) not allowed: {expr}")
    return num


def _int_or_name(expr: str, names: dict[str, int]) -> int:
    if expr.lower() in names:
        return names[expr.lower()]
    return _atoi(expr)


def _range(expr: str, lo: int, hi: int, names: dict[str, int]) -> None:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    if low_high[0] in ("*", "?"):
        start, end = lo, hi
    else:
        start = _int_or_name(low_high[0], names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 2:
        step = _atoi(range_and_step[1])
        if len(low_high) == 1:
            end = hi
    elif len(range_and_step) > 2:
        raise CronError(f"too many slashes: {expr}")
    else:
        step = 1
    if start < lo:
        raise CronError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise CronError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")


def parse_schedule(spec: str) -> None:
    """Raise CronError with robfig/cron's message if ``spec`` is not a standard cron schedule."""
    if not spec:
        raise CronError("empty spec string")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        zone = spec[spec.find("=") + 1 : space if space >= 0 else len(spec)]
        if _load_zone(zone) is not None:
            raise CronError(f"provided bad location {zone}: unknown time zone {zone}")
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return
        if spec.startswith("@every "):
            if not _GO_DURATION.match(spec[len("@every ") :]):
                raise CronError(f'failed to parse duration {spec}: time: invalid duration "{spec[7:]}"')
            return
        raise CronError(f"unrecognized descriptor: {spec}")
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    for text, (lo, hi, names) in zip(fields, _BOUNDS, strict=True):
        for expr in [e for e in text.split(",") if e]:
            _range(expr, lo, hi, names)


def _load_zone(zone: str) -> str | None:
    """None when the zone loads, else the error text Go's time.LoadLocation gives."""
    if zone in ("", "UTC"):
        return None
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {zone}"
    return None


_TZ_PART: Final = re.compile(r"^[A-Za-z.\-_0-9+]{1,14}$")


def _time_zone(tz: Any, path: Path) -> Errs:
    if tz is None:
        return []
    zone = c.s(tz)
    if not zone:
        return [fe.invalid(path, zone, "timeZone must be nil or non-empty string")]
    for part in zone.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART.match(part):
            return [fe.invalid(path, zone, f"unknown time zone {zone}")]
    errs: Errs = []
    if zone.lower() == "local":
        errs.append(
            fe.invalid(
                path, zone, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
            )
        )
    problem = _load_zone(zone)
    if problem:
        errs.append(fe.invalid(path, zone, problem))
    return errs


# ---------------------------------------------------------------- Job


def _pod_failure_policy(spec: Obj, path: Path) -> Errs:
    errs: Errs = []
    rules = c.lst(c.get(spec, "podFailurePolicy", "rules"))
    if len(rules) > 20:
        errs.append(fe.too_many(path.child("rules"), len(rules), 20))
    tspec = c.dct(c.get(spec, "template", "spec"))
    names = {c.s(c.get(x, "name")) for x in c.lst(tspec.get("containers")) + c.lst(tspec.get("initContainers"))}
    for n, rule in c.each(rules):
        rp = path.child("rules").index(n)
        action = c.s(rule.get("action"))
        if not action:
            errs.append(
                fe.required(rp.child("action"), "valid values: [" + " ".join(fe.go_quote(a) for a in _ACTIONS) + "]")
            )
        elif action == "FailIndex":
            if spec.get("backoffLimitPerIndex") is None:
                errs.append(fe.invalid(rp.child("action"), action, "requires the backoffLimitPerIndex to be set"))
        elif action not in _ACTIONS:
            errs.append(fe.not_supported(rp.child("action"), action, _ACTIONS))
        on_codes, on_conds = rule.get("onExitCodes"), c.lst(rule.get("onPodConditions"))
        if on_codes is not None:
            errs += _on_exit_codes(c.dct(on_codes), rp.child("onExitCodes"), names)
        for j, pattern in c.each(on_conds):
            pp = rp.child("onPodConditions").index(j)
            errs += c.qualified_name(c.s(pattern.get("type")), pp.child("type"))
            errs += c.required_enum(
                c.s(pattern.get("status")),
                ["False", "True", "Unknown"],
                pp.child("status"),
                'valid values: ["False" "True" "Unknown"]',
            )
        if on_codes is not None and on_conds:
            errs.append(fe.invalid(rp, fe.OMIT, "specifying both OnExitCodes and OnPodConditions is not supported"))
        if on_codes is None and not on_conds:
            errs.append(fe.invalid(rp, fe.OMIT, "specifying one of OnExitCodes and OnPodConditions is required"))
    return errs


def _on_exit_codes(req: Obj, path: Path, names: set[str]) -> Errs:
    errs: Errs = []
    op = c.s(req.get("operator"))
    errs += c.required_enum(op, ["In", "NotIn"], path.child("operator"), 'valid values: ["In" "NotIn"]')
    cname = req.get("containerName")
    if cname is not None and cname not in names:
        errs.append(
            fe.invalid(
                path.child("containerName"),
                c.s(cname),
                "must be one of the container or initContainer names in the pod template",
            )
        )
    values = [c.i(v) for v in c.lst(req.get("values"))]
    if not values:
        errs.append(fe.invalid(path.child("values"), values, "at least one value is required"))
    elif len(values) > 255:
        errs.append(fe.too_many(path.child("values"), len(values), 255))
    seen: set[int] = set()
    for n, v in enumerate(values):
        if op == "In" and v == 0:
            errs.append(fe.invalid(path.child("values").index(n), v, "must not be 0 for the In operator"))
        if v in seen:
            errs.append(fe.duplicate(path.child("values").index(n), v))
        seen.add(v)
    if values != sorted(values):
        errs.append(fe.invalid(path.child("values"), values, "must be ordered"))
    return errs


def job_spec(spec: Obj, path: Path) -> Errs:
    """validateJobSpec (shared by Jobs and CronJob job templates)."""
    errs: Errs = []
    for fld in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ):
        errs += c.nonnegative(spec.get(fld), path.child(fld))
    if spec.get("maxFailedIndexes") is not None and spec.get("backoffLimitPerIndex") is None:
        errs.append(fe.required(path.child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
    managed = spec.get("managedBy")
    if managed is not None:
        m = c.s(managed)
        parts = m.split("/", 1)
        if len(parts) != 2 or not parts[0] or not parts[1]:
            errs.append(
                fe.invalid(path.child("managedBy"), m, 'must be a domain-prefixed path (such as "acme.io/foo")')
            )
        else:
            errs += c.dns1123_subdomain(parts[0], path.child("managedBy"))
        if len(m) > _MAX_MANAGED_BY:
            errs.append(fe.too_long(path.child("managedBy"), _MAX_MANAGED_BY))
    mode = spec.get("completionMode")
    indexed = mode == "Indexed"
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            errs.append(fe.not_supported(path.child("completionMode"), mode, ["NonIndexed", "Indexed"]))
        if indexed:
            if spec.get("completions") is None:
                errs.append(fe.required(path.child("completions"), "when completion mode is Indexed"))
            par = spec.get("parallelism")
            if isinstance(par, int) and par > _MAX_PARALLELISM_INDEXED:
                errs.append(
                    fe.invalid(
                        path.child("parallelism"),
                        par,
                        f"must be less than or equal to {_MAX_PARALLELISM_INDEXED} when completion mode is Indexed",
                    )
                )
            mfi = spec.get("maxFailedIndexes")
            if isinstance(mfi, int) and isinstance(spec.get("completions"), int) and mfi > spec["completions"]:
                errs.append(
                    fe.invalid(path.child("maxFailedIndexes"), mfi, "must be less than or equal to completions")
                )
            if isinstance(mfi, int) and mfi > _MAX_FAILED_INDEXES:
                errs.append(
                    fe.invalid(
                        path.child("maxFailedIndexes"), mfi, f"must be less than or equal to {_MAX_FAILED_INDEXES}"
                    )
                )
    if not indexed:
        for fld in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(fld) is not None:
                errs.append(fe.invalid(path.child(fld), spec[fld], "requires indexed completion mode"))
    if spec.get("podFailurePolicy") is not None:
        errs += _pod_failure_policy(spec, path.child("podFailurePolicy"))
    if spec.get("successPolicy") is not None and not indexed:
        errs.append(fe.invalid(path.child("successPolicy"), spec["successPolicy"], "requires indexed completion mode"))
    prp = spec.get("podReplacementPolicy")
    if prp is not None:
        if spec.get("podFailurePolicy") is not None:
            if prp != "Failed":
                errs.append(fe.not_supported(path.child("podReplacementPolicy"), prp, ["Failed"]))
        elif prp not in ("Failed", "TerminatingOrFailed"):
            errs.append(fe.not_supported(path.child("podReplacementPolicy"), prp, ["Failed", "TerminatingOrFailed"]))
    errs += vp.pod_template_spec(spec.get("template"), path.child("template"))
    restart = c.s(c.get(spec, "template", "spec", "restartPolicy"))
    rp = path.child("template", "spec", "restartPolicy")
    if restart in ("Always", ""):
        errs.append(fe.required(rp, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        errs.append(fe.not_supported(rp, restart, ["OnFailure", "Never"]))
    elif spec.get("podFailurePolicy") is not None and restart != "Never":
        errs.append(fe.invalid(rp, restart, 'only "Never" is supported when podFailurePolicy is specified'))
    return errs


def _has_label(labels: Obj, key: str, expected: str, path: Path) -> Errs:
    if key not in labels:
        return [fe.required(path.child("labels").key(key), f"must be '{expected}'")]
    if labels[key] != expected:
        return [fe.invalid(path.child("labels").key(key), labels, f"must be '{expected}'")]
    return []


def _generated_selector(job: Obj) -> Errs:
    spec = c.dct(job.get("spec"))
    if spec.get("manualSelector") is True or spec.get("selector") is None:
        return []
    uid, name = c.s(c.get(job, "metadata", "uid")), c.s(c.get(job, "metadata", "name"))
    errs: Errs = []
    if not uid:
        errs.append(fe.required(Path.of("metadata", "uid")))
    labels = c.dct(c.get(spec, "template", "metadata", "labels"))
    tp = SPEC.child("template", "metadata")
    expected = {
        LEGACY_CONTROLLER_UID_LABEL: uid,
        LEGACY_JOB_NAME_LABEL: name,
        CONTROLLER_UID_LABEL: uid,
        JOB_NAME_LABEL: name,
    }
    for key in (LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL, CONTROLLER_UID_LABEL, JOB_NAME_LABEL):
        errs += _has_label(labels, key, expected[key], tp)
    if c.selector_is_valid(spec["selector"]) and not c.selector_matches(spec["selector"], expected):
        errs.append(fe.invalid(SPEC.child("selector"), spec["selector"], "`selector` not auto-generated"))
    return errs


def _job_selector_and_template(spec: Obj) -> Errs:
    sel = spec.get("selector")
    errs = job_spec(spec, SPEC)
    if sel is None:
        errs.append(fe.required(SPEC.child("selector")))
    else:
        errs += c.label_selector(sel, SPEC.child("selector"))
    labels = c.dct(c.get(spec, "template", "metadata", "labels"))
    if c.selector_is_valid(sel) and not c.selector_matches(sel, labels) and not c.selector_is_empty(sel):
        errs.append(
            fe.invalid(
                SPEC.child("template", "metadata", "labels"), labels, "`selector` does not match template `labels`"
            )
        )
    return errs


def validate_job(job: Obj, old: Obj | None = None) -> Errs:
    spec = c.dct(job.get("spec"))
    if old is None:
        errs = vm.validate_object_meta(job, True, c.name_is_dns_subdomain)
        errs += _generated_selector(job)
        errs += _job_selector_and_template(spec)
        completions = spec.get("completions")
        if spec.get("completionMode") == "Indexed" and isinstance(completions, int) and completions > 0:
            name = c.s(c.get(job, "metadata", "name"))
            host = f"{name}-{completions - 1}"
            if c.name_is_dns_label(host, False):
                errs.append(
                    fe.invalid(
                        Path.of("metadata", "name"), name, f"will not able to create pod with invalid DNS label: {host}"
                    )
                )
        return errs
    ospec = c.dct(old.get("spec"))
    errs = vm.validate_object_meta_update(job, old) + _job_selector_and_template(spec)
    errs += c.immutable(spec.get("completions"), ospec.get("completions"), SPEC.child("completions"))
    errs += c.immutable(spec.get("selector"), ospec.get("selector"), SPEC.child("selector"))
    template, old_template = c.dct(spec.get("template")), c.dct(ospec.get("template"))
    if ospec.get("suspend") is True and c.get(old, "status", "startTime") is None:
        # A suspended Job that never started may change its scheduling directives and template metadata.
        old_template = {
            **old_template,
            "metadata": template.get("metadata"),
            "spec": {
                **c.dct(old_template.get("spec")),
                **{k: c.get(template, "spec", k) for k in ("nodeSelector", "tolerations", "schedulingGates")},
                "affinity": c.get(template, "spec", "affinity"),
            },
        }
    errs += c.immutable(template, old_template, SPEC.child("template"))
    for fld in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
        errs += c.immutable(spec.get(fld), ospec.get(fld), SPEC.child(fld))
    return errs


# ---------------------------------------------------------------- CronJob


def job_template_spec(tmpl: Any, path: Path) -> Errs:
    spec = c.dct(c.get(tmpl, "spec"))
    errs = job_spec(spec, path.child("spec"))
    if spec.get("selector") is not None:
        errs.append(fe.invalid(path.child("spec", "selector"), spec["selector"], "`selector` will be auto-generated"))
    if spec.get("manualSelector") is True:
        errs.append(fe.not_supported(path.child("spec", "manualSelector"), True, ["nil", "false"]))
    return errs


def _cron_job_spec(spec: Obj, old_spec: Obj | None) -> Errs:
    errs: Errs = []
    schedule, tz = c.s(spec.get("schedule")), spec.get("timeZone")
    sp = SPEC.child("schedule")
    if not schedule:
        errs.append(fe.required(sp))
    else:
        try:
            parse_schedule(schedule)
        except CronError as e:
            errs.append(fe.invalid(sp, schedule, str(e)))
        allow_tz = old_spec is not None and "TZ" in c.s(old_spec.get("schedule"))
        if allow_tz and "TZ" in schedule and tz is not None:
            errs.append(fe.invalid(sp, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
        elif not allow_tz and "TZ" in schedule:
            errs.append(fe.invalid(sp, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    errs += c.nonnegative(spec.get("startingDeadlineSeconds"), SPEC.child("startingDeadlineSeconds"))
    if old_spec is None or old_spec.get("timeZone") != tz:
        errs += _time_zone(tz, SPEC.child("timeZone"))
    errs += c.required_enum(
        c.s(spec.get("concurrencyPolicy")), ["Allow", "Forbid", "Replace"], SPEC.child("concurrencyPolicy")
    )
    errs += job_template_spec(spec.get("jobTemplate"), SPEC.child("jobTemplate"))
    for fld in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errs += c.nonnegative(spec.get(fld), SPEC.child(fld))
    return errs


def validate_cron_job(cj: Obj, old: Obj | None = None) -> Errs:
    spec = c.dct(cj.get("spec"))
    if old is not None:
        return vm.validate_object_meta_update(cj, old) + _cron_job_spec(spec, c.dct(old.get("spec")))
    errs = vm.validate_object_meta(cj, True, c.name_is_dns_subdomain) + _cron_job_spec(spec, None)
    name = c.s(c.get(cj, "metadata", "name"))
    if len(name) > 52:
        errs.append(fe.invalid(Path.of("metadata", "name"), name, "must be no more than 52 characters"))
    return errs
