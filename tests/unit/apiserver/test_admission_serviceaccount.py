"""The ServiceAccount admission plugin on its own: defaulting, the existence check, the automounted volume."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.apiserver.admission_serviceaccount import (
    DEFAULT_API_TOKEN_MOUNT_PATH,
    ServiceAccountAdmission,
    should_automount,
)
from pyk8s.client.kinds import PODS

Obj = dict[str, Any]

MOUNT = {"name": "kube-api-access-abcde", "readOnly": True, "mountPath": DEFAULT_API_TOKEN_MOUNT_PATH}
VOLUME = {
    "name": "kube-api-access-abcde",
    "projected": {
        "defaultMode": 420,
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ],
    },
}


class Accounts:
    """A lookup over a dict of (namespace, name) -> ServiceAccount that counts calls."""

    def __init__(self, *accounts: Obj) -> None:
        self.items = {(a["metadata"]["namespace"], a["metadata"]["name"]): a for a in accounts}
        self.calls = 0
        self.sleeps: list[float] = []

    async def lookup(self, namespace: str, name: str) -> Obj:
        self.calls += 1
        try:
            return self.items[(namespace, name)]
        except KeyError:
            raise errors.not_found("serviceaccounts", "", name) from None

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def plugin(self) -> ServiceAccountAdmission:
        return ServiceAccountAdmission(self.lookup, sleep=self.sleep, retry_interval=lambda: 0.15,
                                       generate_name=lambda prefix: prefix + "abcde")


def account(name: str = "default", namespace: str = "ns", **fields: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace},
            **fields}


def pod(**spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


async def test_defaults_to_default_account_and_mounts_the_token_volume() -> None:
    accounts = Accounts(account())
    p = pod(initContainers=[{"name": "init", "image": "busybox"}])
    await accounts.plugin().admit_create(PODS, p)
    spec = p["spec"]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    assert spec["volumes"] == [VOLUME]
    assert spec["containers"][0]["volumeMounts"] == [MOUNT]
    assert spec["initContainers"][0]["volumeMounts"] == [MOUNT]
    assert "imagePullSecrets" not in spec
    assert accounts.sleeps == []


async def test_generated_volume_names_are_random() -> None:
    p1, p2 = pod(), pod()
    plugin = ServiceAccountAdmission(Accounts(account()).lookup)
    await plugin.admit_create(PODS, p1)
    await plugin.admit_create(PODS, p2)
    names = [p["spec"]["volumes"][0]["name"] for p in (p1, p2)]
    for name in names:
        assert name.startswith("kube-api-access-") and len(name) == len("kube-api-access-") + 5
    assert p1["spec"]["containers"][0]["volumeMounts"][0]["name"] == names[0]


async def test_missing_account_is_forbidden_with_upstreams_message() -> None:
    accounts = Accounts()
    with pytest.raises(errors.Forbidden) as info:
        await accounts.plugin().admit_create(PODS, pod(serviceAccountName="robot"))
    assert info.value.code == 403
    assert info.value.message == ('pods "p" is forbidden: error looking up service account ns/robot: '
                                  'serviceaccount "robot" not found')
    assert info.value.details == {"name": "p", "kind": "pods"}
    assert accounts.calls == 1 and accounts.sleeps == []


async def test_default_account_is_looked_up_ten_times_before_refusing() -> None:
    accounts = Accounts()
    with pytest.raises(errors.Forbidden, match=r'serviceaccount "default" not found$'):
        await accounts.plugin().admit_create(PODS, pod())
    assert accounts.calls == 10 and accounts.sleeps == [0.15] * 9


async def test_default_account_made_while_waiting_is_found() -> None:
    accounts = Accounts()
    plugin = accounts.plugin()

    async def controller_catches_up(seconds: float) -> None:
        accounts.sleeps.append(seconds)
        if len(accounts.sleeps) == 3:
            accounts.items[("ns", "default")] = account()

    plugin.sleep = controller_catches_up
    p = pod()
    await plugin.admit_create(PODS, p)
    assert accounts.calls == 4 and p["spec"]["volumes"] == [VOLUME]


@pytest.mark.parametrize(("pod_choice", "account_choice", "mounted"), [
    (None, None, True), (False, None, False), (None, False, False), (True, False, True), (False, True, False),
])
async def test_automount_pod_setting_wins_over_the_accounts(pod_choice: bool | None, account_choice: bool | None,
                                                            mounted: bool) -> None:
    sa = account() if account_choice is None else account(automountServiceAccountToken=account_choice)
    p = pod() if pod_choice is None else pod(automountServiceAccountToken=pod_choice)
    assert should_automount(sa, p) is mounted
    await Accounts(sa).plugin().admit_create(PODS, p)
    assert ("volumes" in p["spec"]) is mounted
    assert ("volumeMounts" in p["spec"]["containers"][0]) is mounted
    assert p["spec"]["serviceAccountName"] == "default"


async def test_containers_mounting_the_path_are_left_alone_and_an_existing_volume_is_reused() -> None:
    own = {"name": "mine", "mountPath": DEFAULT_API_TOKEN_MOUNT_PATH}
    p = pod(containers=[{"name": "a", "image": "x", "volumeMounts": [own]}], volumes=[{"name": "mine", "emptyDir": {}}])
    await Accounts(account()).plugin().admit_create(PODS, p)
    assert p["spec"]["containers"][0]["volumeMounts"] == [own]
    assert p["spec"]["volumes"] == [{"name": "mine", "emptyDir": {}}]  # nobody needs the token volume

    existing = {"name": "kube-api-access-zzzzz", "emptyDir": {}}
    p = pod(containers=[{"name": "a", "image": "x"}, {"name": "b", "image": "x", "volumeMounts": [own]}],
            volumes=[existing])
    await Accounts(account()).plugin().admit_create(PODS, p)
    assert p["spec"]["volumes"] == [existing]
    assert p["spec"]["containers"][0]["volumeMounts"] == [{**MOUNT, "name": "kube-api-access-zzzzz"}]
    assert p["spec"]["containers"][1]["volumeMounts"] == [own]


async def test_image_pull_secrets_come_from_the_account_unless_the_pod_names_some() -> None:
    sa = account("builder", imagePullSecrets=[{"name": "regcred"}], automountServiceAccountToken=False)
    p = pod(serviceAccountName="builder")
    await Accounts(sa).plugin().admit_create(PODS, p)
    assert p["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    p = pod(serviceAccountName="builder", imagePullSecrets=[{"name": "own"}])
    await Accounts(sa).plugin().admit_create(PODS, p)
    assert p["spec"]["imagePullSecrets"] == [{"name": "own"}]


async def test_deprecated_service_account_field_names_the_account() -> None:
    p = pod(serviceAccount="robot")
    await Accounts(account("robot")).plugin().admit_create(PODS, p)
    assert p["spec"]["serviceAccountName"] == "robot" and p["spec"]["serviceAccount"] == "robot"


async def test_mirror_pods_are_not_changed_but_may_not_reference_accounts_or_secrets() -> None:
    mirror = pod()
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    accounts = Accounts()
    before = copy.deepcopy(mirror)
    await accounts.plugin().admit_create(PODS, mirror)
    assert mirror == before and accounts.calls == 0

    cases = [
        ({"serviceAccountName": "default"}, "a mirror pod may not reference service accounts"),
        ({"volumes": [{"name": "s", "secret": {"secretName": "x"}}]}, "a mirror pod may not reference secrets"),
        ({"containers": [{"name": "c", "image": "x", "env": [{"name": "E", "valueFrom": {
            "secretKeyRef": {"name": "x", "key": "k"}}}]}]}, "a mirror pod may not reference secrets"),
        ({"volumes": [{"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}]},
         "a mirror pod may not use ServiceAccountToken volume projections"),
    ]
    for spec, why in cases:
        bad = copy.deepcopy(before)
        bad["spec"].update(spec)
        with pytest.raises(errors.Forbidden) as info:
            await accounts.plugin().admit_create(PODS, bad)
        assert info.value.message == f'pods "p" is forbidden: {why}'
