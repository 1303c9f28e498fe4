"""Container environments: envFrom, $(VAR) expansion, every fieldRef, resourceFieldRef, ConfigMap/Secret keys."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.client.fake import FakeClient
from pyk8s.client.kinds import CONFIGMAPS, SECRETS
from pyk8s.kubelet.envvars import CreateContainerConfigError, container_env, expand, format_map, lookup_in

Obj = dict[str, Any]


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


@pytest.fixture
def client() -> FakeClient:
    fake = FakeClient()
    fake.seed(CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": "ns"}, "data": {"A": "1", "B": "2", "bad=k": "x"}})
    fake.seed(SECRETS, {"metadata": {"name": "sec", "namespace": "ns"}, "data": {"PASS": b64("hunter2")}})
    return fake


def pod_with(container: Obj, **spec: Any) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": "u-1", "labels": {"app": "web", "tier": "a b"},
                     "annotations": {"note": 'say "hi"'}},
        "spec": {"containers": [container], "nodeName": "node-1", "serviceAccountName": "robot", **spec},
    }


async def env_of(client: FakeClient, container: Obj, **kw: Any) -> dict[str, str]:
    pod = pod_with(container)
    pairs = await container_env(pod, container, client=client, pod_ip="10.0.0.5", host_ip="10.250.0.1",
                                node_name="node-1", **kw)
    return dict(pairs)


@pytest.mark.parametrize("text,want", [
    ("$(A)", "1"),
    ("x$(A)y$(B)", "x1y2"),
    ("$$(A)", "$(A)"),
    ("$(MISSING)", "$(MISSING)"),
    ("$(A", "$(A"),
    ("$", "$"),
    ("a$b", "a$b"),
    ("$$$$", "$$"),
    ("$()", "$()"),
    ("$(A)$(A)", "11"),
])
def test_expand_follows_upstream_syntax(text: str, want: str) -> None:
    assert expand(text, lookup_in({"A": "1", "B": "2"})) == want


def test_format_map_sorted_and_quoted() -> None:
    assert format_map({"b": "2", "a": 'x"y'}) == 'a="x\\"y"\nb="2"'


async def test_env_from_with_prefix_and_invalid_keys_skipped(client: FakeClient) -> None:
    c = {"name": "c", "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "P_"}, {"secretRef": {"name": "sec"}}]}
    env = await env_of(client, c)
    assert env == {"P_A": "1", "P_B": "2", "PASS": "hunter2"}


async def test_env_values_expand_against_earlier_vars_and_services(client: FakeClient) -> None:
    c = {"name": "c", "env": [
        {"name": "X", "value": "x"},
        {"name": "Y", "value": "$(X)-$(SVC_HOST)-$(LATER)-$$(X)"},
        {"name": "LATER", "value": "l"},
    ]}
    pairs = await container_env(pod_with(c), c, client=client, pod_ip="", host_ip="", node_name="n",
                                service_env=[("SVC_HOST", "10.0.0.1"), ("X", "ignored")])
    assert pairs == [("X", "x"), ("Y", "x-10.0.0.1-$(LATER)-$(X)"), ("LATER", "l"), ("SVC_HOST", "10.0.0.1")]


async def test_later_declaration_wins(client: FakeClient) -> None:
    c = {"name": "c", "envFrom": [{"configMapRef": {"name": "cfg"}}], "env": [{"name": "A", "value": "override"}]}
    env = await env_of(client, c)
    assert env["A"] == "override"


@pytest.mark.parametrize("path,want", [
    ("metadata.name", "web"),
    ("metadata.namespace", "ns"),
    ("metadata.uid", "u-1"),
    ("metadata.labels['app']", "web"),
    ("metadata.labels['none']", ""),
    ("metadata.annotations['note']", 'say "hi"'),
    ("metadata.labels", 'app="web"\ntier="a b"'),
    ("spec.nodeName", "node-1"),
    ("spec.serviceAccountName", "robot"),
    ("status.hostIP", "10.250.0.1"),
    ("status.hostIPs", "10.250.0.1"),
    ("status.podIP", "10.0.0.5"),
    ("status.podIPs", "10.0.0.5"),
])
async def test_field_refs(client: FakeClient, path: str, want: str) -> None:
    c = {"name": "c", "env": [{"name": "V", "valueFrom": {"fieldRef": {"fieldPath": path}}}]}
    assert (await env_of(client, c))["V"] == want


async def test_dual_stack_ips(client: FakeClient) -> None:
    c = {"name": "c", "env": [{"name": "V", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}}]}
    env = await env_of(client, c, pod_ips=["10.0.0.5", "fd00::5"])
    assert env["V"] == "10.0.0.5,fd00::5"


async def test_unsupported_field_path(client: FakeClient) -> None:
    c = {"name": "c", "env": [{"name": "V", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}]}
    with pytest.raises(CreateContainerConfigError, match=r"unsupported fieldPath: spec\.bogus"):
        await env_of(client, c)


@pytest.mark.parametrize("ref,want", [
    ({"resource": "limits.cpu"}, "2"),  # 1500m rounds up
    ({"resource": "limits.cpu", "divisor": "1m"}, "1500"),
    ({"resource": "requests.cpu", "divisor": "1m"}, "250"),
    ({"resource": "limits.memory"}, str(64 * 1024 * 1024)),
    ({"resource": "limits.memory", "divisor": "1Mi"}, "64"),
    ({"resource": "requests.memory", "divisor": "1Mi"}, "64"),  # defaults to the limit
    ({"resource": "limits.ephemeral-storage", "divisor": "1Gi"}, "10"),  # node allocatable
    ({"resource": "requests.ephemeral-storage"}, "0"),
])
async def test_resource_field_refs(client: FakeClient, ref: Obj, want: str) -> None:
    c = {"name": "c", "resources": {"limits": {"cpu": "1500m", "memory": "64Mi"}, "requests": {"cpu": "250m"}},
         "env": [{"name": "V", "valueFrom": {"resourceFieldRef": ref}}]}
    env = await env_of(client, c, allocatable={"cpu": "4", "memory": "8Gi", "ephemeral-storage": "10Gi"})
    assert env["V"] == want


async def test_resource_limit_defaults_to_allocatable(client: FakeClient) -> None:
    c = {"name": "c", "env": [{"name": "V", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                              "divisor": "1Gi"}}}]}
    assert (await env_of(client, c, allocatable={"memory": "8Gi"}))["V"] == "8"


async def test_key_refs(client: FakeClient) -> None:
    c = {"name": "c", "env": [
        {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "B"}}},
        {"name": "S", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "PASS"}}},
        {"name": "OPT1", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "x", "optional": True}}},
        {"name": "OPT2", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "nokey", "optional": True}}},
        {"name": "OPT3", "valueFrom": {"secretKeyRef": {"name": "nosecret", "key": "k", "optional": True}}},
    ]}
    assert await env_of(client, c) == {"CM": "2", "S": "hunter2"}


@pytest.mark.parametrize("env_from,message", [
    ({"configMapRef": {"name": "nope"}}, 'configmap "nope" not found'),
    ({"secretRef": {"name": "nope"}}, 'secret "nope" not found'),
])
async def test_missing_env_from(client: FakeClient, env_from: Obj, message: str) -> None:
    c = {"name": "c", "envFrom": [env_from]}
    with pytest.raises(CreateContainerConfigError) as e:
        await env_of(client, c)
    assert str(e.value) == message
    optional = {k: {**v, "optional": True} for k, v in env_from.items()}
    assert await env_of(client, {"name": "c", "envFrom": [optional]}) == {}


@pytest.mark.parametrize("value_from,message", [
    ({"configMapKeyRef": {"name": "nope", "key": "k"}}, 'configmap "nope" not found'),
    ({"configMapKeyRef": {"name": "cfg", "key": "k"}}, "couldn't find key k in ConfigMap ns/cfg"),
    ({"secretKeyRef": {"name": "nope", "key": "k"}}, 'secret "nope" not found'),
    ({"secretKeyRef": {"name": "sec", "key": "k"}}, "couldn't find key k in Secret ns/sec"),
])
async def test_missing_key_refs(client: FakeClient, value_from: Obj, message: str) -> None:
    c = {"name": "c", "env": [{"name": "V", "valueFrom": value_from}]}
    with pytest.raises(CreateContainerConfigError) as e:
        await env_of(client, c)
    assert str(e.value) == message


async def test_other_api_errors_become_config_errors(client: FakeClient) -> None:
    client.fail_next("get", "configmaps", errors.Forbidden("configmaps \"cfg\" is forbidden"))
    c = {"name": "c", "envFrom": [{"configMapRef": {"name": "cfg", "optional": True}}]}
    with pytest.raises(CreateContainerConfigError, match=r"forbidden"):
        await env_of(client, c)
