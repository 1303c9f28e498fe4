"""The Pods behind a Service (framework.servicepods) and the trigger-time annotation (framework.triggertime),
shared by the Endpoints and EndpointSlice controllers."""

from __future__ import annotations

import datetime

from pyk8s.api import meta
from pyk8s.client.interface import Obj
from pyk8s.controllers.framework.servicepods import (
    find_port,
    pod_ips,
    pod_services,
    service_pods,
    service_selector,
    services_to_update,
    should_pod_be_in_endpoints,
    should_set_hostname,
)
from pyk8s.controllers.framework.triggertime import (
    ANNOTATION_TRIGGER_TIME,
    TriggerTimeTracker,
    format_trigger_time,
    set_trigger_time,
)
from tests.unit.controllers.builders import pod, service


def bump(p: Obj, rv: str) -> Obj:
    out = meta.copy(p)
    out["metadata"]["resourceVersion"] = rv
    return out


def test_selection() -> None:
    assert service_selector(service()) == {"app": "web"}
    assert service_selector(service(selector={})) is None
    web, db = pod("a"), pod("b", labels={"app": "db"})
    assert service_pods(service(), [web, db]) == [web]
    assert service_pods(service(selector={}), [web, db]) is None
    assert service_pods(service(type="ExternalName"), [web, db]) is None
    svcs = [service("web"), service("db", selector={"app": "db"}), service("none", selector={})]
    assert pod_services(svcs, web) == {"default/web"}
    assert pod_services(svcs, db) == {"default/db"}


def test_services_to_update_by_kind_of_change() -> None:
    svcs = [service("web"), service("db", selector={"app": "db"})]
    old = bump(pod("a"), "1")
    assert services_to_update(svcs, old, old) == set()  # same resourceVersion: a resync
    assert services_to_update(svcs, old, bump(old, "2")) == set()  # nothing relevant changed
    unready = bump(pod("a", ready=False), "2")
    assert services_to_update(svcs, old, unready) == {"default/web"}  # endpoint change
    moved = bump(pod("a", labels={"app": "db"}), "2")
    assert services_to_update(svcs, old, moved) == {"default/web", "default/db"}  # left one, joined the other
    moved_and_unready = bump(pod("a", labels={"app": "db"}, ready=False), "2")
    assert services_to_update(svcs, old, moved_and_unready) == {"default/web", "default/db"}
    new_ip = bump(pod("a", ip="10.244.0.9"), "2")
    assert services_to_update(svcs, old, new_ip) == {"default/web"}


def test_pod_publication() -> None:
    assert pod_ips(pod("a")) == ["10.244.0.1"]
    assert pod_ips(pod("a", ip=None)) == []
    legacy = pod("a", ip=None)
    legacy["status"]["podIP"] = "10.0.0.5"
    assert pod_ips(legacy) == ["10.0.0.5"]
    assert should_pod_be_in_endpoints(pod("a"), False)
    assert not should_pod_be_in_endpoints(pod("a", ip=None), True)
    assert not should_pod_be_in_endpoints(pod("a", phase="Succeeded"), True)
    deleting = pod("a")
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert not should_pod_be_in_endpoints(deleting, False) and should_pod_be_in_endpoints(deleting, True)
    named = pod("a", hostname="a", subdomain="web")
    assert should_set_hostname(named, service("web"))
    assert not should_set_hostname(named, service("other"))
    assert not should_set_hostname(named, service("web", ns="elsewhere"))
    assert not should_set_hostname(pod("a", subdomain="web"), service("web"))


def test_ports_resolve_numbers_and_names() -> None:
    named = [{"name": "http", "containerPort": 9090, "protocol": "TCP"},
             {"name": "dns", "containerPort": 53, "protocol": "UDP"}]
    p = pod("a", ports=named)
    assert find_port(p, {"port": 80, "targetPort": 8080}) == 8080
    assert find_port(p, {"port": 80, "targetPort": "http", "protocol": "TCP"}) == 9090
    assert find_port(p, {"port": 53, "targetPort": "dns", "protocol": "TCP"}) is None  # protocol must match
    assert find_port(p, {"port": 80}) == 80  # no targetPort: the port itself
    sidecar = pod("s")
    sidecar["spec"]["initContainers"] = [{"name": "side", "restartPolicy": "Always",
                                          "ports": [{"name": "http", "containerPort": 7070}]}]
    assert find_port(sidecar, {"port": 80, "targetPort": "http"}) == 7070


def test_trigger_time_is_the_earliest_change_since_the_last_sync() -> None:
    t = TriggerTimeTracker()
    s = service()
    s["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    a = pod("a", ready_since="2026-01-01T00:01:00Z")
    b = pod("b", ready_since="2026-01-01T00:02:00Z")
    first = t.compute("default", s, [a, b])
    assert first is not None and format_trigger_time(first) == "2026-01-01T00:00:00Z"
    assert t.compute("default", s, [a, b]) is None
    c = pod("c", ready_since="2026-01-01T00:05:00Z")
    b2 = pod("b", ready_since="2026-01-01T00:04:00Z")
    later = t.compute("default", s, [a, b2, c])
    assert later is not None and format_trigger_time(later) == "2026-01-01T00:04:00Z"
    t.delete_service("default", "web")
    assert t.compute("default", s, [a, b2, c]) == first  # forgotten: a first sync again


def test_trigger_time_annotation() -> None:
    assert format_trigger_time(datetime.datetime(2026, 1, 1, 0, 0, 0, 120000, tzinfo=datetime.UTC)) == \
        "2026-01-01T00:00:00.12Z"
    obj: Obj = {"metadata": {"annotations": {"x": "y"}}}
    set_trigger_time(obj, datetime.datetime(2026, 1, 1, 0, 4, tzinfo=datetime.UTC))
    assert obj["metadata"]["annotations"] == {"x": "y", ANNOTATION_TRIGGER_TIME: "2026-01-01T00:04:00Z"}
    set_trigger_time(obj, None)
    assert obj["metadata"]["annotations"] == {"x": "y"}
    bare: Obj = {"metadata": {"annotations": {ANNOTATION_TRIGGER_TIME: "2026-01-01T00:04:00Z"}}}
    set_trigger_time(bare, None)
    assert "annotations" not in bare["metadata"]
