"""Pure parts of the kubelet-backed endpoints: container choice, kubelet queries, addresses, quantities, JWTs."""

from __future__ import annotations

import time

import pytest
from multidict import MultiDict

from pyk8s.api import errors
from pyk8s.apiserver.kubeletclient import kubelet_endpoint
from pyk8s.apiserver.metrics import cpu_quantity, memory_quantity, parse_metrics_path
from pyk8s.apiserver.nodeproxy import log_query, resolve_container, stream_query
from pyk8s.apiserver.satokens import TokenSigner
from pyk8s.pki.certs import new_sa_signing_key

POD = {"metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "init"}],
                                           "containers": [{"name": "a"}, {"name": "b"}]}}


def test_resolve_container() -> None:
    assert resolve_container({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "only"}]}}, "") == "only"
    assert resolve_container(POD, "init") == "init"
    with pytest.raises(errors.BadRequest, match=r"^a container name must be specified for pod p, "
                                                r"choose one of: \[init a b\]$"):
        resolve_container(POD, "")
    with pytest.raises(errors.BadRequest, match=r"^container c is not valid for pod p$"):
        resolve_container(POD, "c")


def test_kubelet_queries() -> None:
    q = MultiDict([("command", "sh"), ("command", "-c"), ("stdin", "true"), ("stdout", "1"), ("stderr", "False"),
                   ("tty", "T"), ("container", "a")])
    assert stream_query(q, "exec") == [("input", "1"), ("output", "1"), ("tty", "1"), ("command", "sh"),
                                       ("command", "-c")]
    assert stream_query(q, "attach") == [("input", "1"), ("output", "1"), ("tty", "1")]
    assert stream_query(MultiDict([("ports", "80"), ("ports", "8080,9090")]), "portforward") == [
        ("port", "80,8080,9090")]
    assert log_query(MultiDict([("follow", "true"), ("tailLines", "0"), ("sinceTime", "2024-01-02T03:04:05+01:00")]),
                     "p") == {"follow": "true", "tailLines": "0", "sinceTime": "2024-01-02T02:04:05Z"}
    with pytest.raises(errors.Invalid, match="at most one of `sinceTime` or `sinceSeconds` may be specified"):
        log_query(MultiDict([("sinceSeconds", "5"), ("sinceTime", "2024-01-02T03:04:05Z")]), "p")
    with pytest.raises(errors.BadRequest):
        log_query(MultiDict([("tailLines", "ten")]), "p")


def test_kubelet_endpoint_prefers_internal_ip_and_defaults_the_port() -> None:
    node = {"metadata": {"name": "n"}, "status": {"addresses": [{"type": "Hostname", "address": "n1"},
                                                               {"type": "InternalIP", "address": "10.0.0.5"}]}}
    assert kubelet_endpoint(node).base_url == "https://10.0.0.5:10250"
    node["status"]["daemonEndpoints"] = {"kubeletEndpoint": {"Port": 11250}}  # type: ignore[index]
    node["status"]["addresses"] = [{"type": "InternalIP", "address": "fd00::5"}]  # type: ignore[index]
    assert kubelet_endpoint(node).base_url == "https://[fd00::5]:11250"
    with pytest.raises(errors.BadRequest):
        kubelet_endpoint({"metadata": {"name": "n"}, "status": {}})


def test_quantities_are_canonical() -> None:
    assert [cpu_quantity(n) for n in (0, 2_000_000_000, 250_000_000, 1_500_000, 12_345)] == \
        ["0", "2", "250m", "1500u", "12345n"]
    assert [memory_quantity(n) for n in (0, 1024, 512 * 1024 * 1024, 3 * 1024 ** 3, 1000)] == \
        ["0", "1Ki", "512Mi", "3Gi", "1000"]


def test_metrics_paths() -> None:
    assert parse_metrics_path("/apis/metrics.k8s.io/v1beta1") is None
    r = parse_metrics_path("/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/p")
    assert r is not None and (r.plural, r.namespace, r.name) == ("pods", "ns", "p")
    r = parse_metrics_path("/apis/metrics.k8s.io/v1beta1/nodes")
    assert r is not None and (r.plural, r.namespace, r.name) == ("nodes", "", "")
    with pytest.raises(errors.NotFound):
        parse_metrics_path("/apis/metrics.k8s.io/v1beta1/deployments")


def test_jwt_round_trip_and_rejections() -> None:
    signer = TokenSigner(new_sa_signing_key())
    now = int(time.time())
    claims = {"aud": ["https://kubernetes.default.svc.cluster.local"], "exp": now + 600, "iat": now, "nbf": now,
              "iss": signer.issuer, "sub": "system:serviceaccount:ns:sa",
              "kubernetes.io": {"namespace": "ns", "serviceaccount": {"name": "sa", "uid": "u"}}}
    token = signer.sign(claims)
    assert signer.verify(token) == claims
    assert signer.verify(token, now=now + 600) is None                          # expired
    assert signer.verify(signer.sign({**claims, "aud": ["other"]})) is None      # wrong audience
    assert signer.verify(signer.sign({**claims, "iss": "elsewhere"})) is None    # wrong issuer
    assert TokenSigner(new_sa_signing_key()).verify(token) is None              # another key
    assert signer.verify("a.b.c") is None
