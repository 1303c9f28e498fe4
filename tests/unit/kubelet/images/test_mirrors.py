from __future__ import annotations

from pathlib import Path

import pytest

from pyk8s.kubelet.cri.runc.images.mirrors import RegistryConfigError, load_registries, parse_registries

YAML = """
mirrors:
  docker.io:
    endpoint: ["http://127.0.0.1:5000", "mirror.example.com:443/v2"]
  "*":
    endpoint: ["https://everything.example"]
configs:
  "127.0.0.1:5000":
    auth: {username: alice, password: secret}
  mirror.example.com:
    tls: {insecure_skip_verify: true, ca_file: /ca.crt}
"""


def test_endpoints_in_order_then_upstream(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(YAML)
    config = load_registries(tmp_path / "r.yaml")
    eps = config.endpoints("docker.io")
    assert [e.url for e in eps] == ["http://127.0.0.1:5000", "https://mirror.example.com:443/v2",
                                    "https://registry-1.docker.io"]
    assert [e.is_mirror for e in eps] == [True, True, False]
    assert eps[1].api_base == "https://mirror.example.com:443"
    # the wildcard covers other registries; a loopback registry is plain HTTP by default
    assert [e.url for e in config.endpoints("quay.io")] == ["https://everything.example", "https://quay.io"]
    assert parse_registries({}).endpoints("127.0.0.1:5000")[0].url == "http://127.0.0.1:5000"


def test_host_configs(tmp_path: Path) -> None:
    config = parse_registries(__import__("yaml").safe_load(YAML))
    auth = config.host_config("127.0.0.1:5000").auth
    assert auth is not None and (auth.username, auth.password) == ("alice", "secret")
    tls = config.host_config("mirror.example.com:443").tls
    assert tls.insecure_skip_verify and tls.ca_file == "/ca.crt"
    assert config.host_config("other:1").auth is None


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert load_registries(tmp_path / "absent.yaml").mirrors == {}


@pytest.mark.parametrize("data", [[1], {"mirrors": {"docker.io": {"endpoint": "http://x"}}}, {"mirrors": ["docker.io"]},
                                  {"configs": {"h": {"auth": "x"}}}])
def test_malformed(data: object) -> None:
    with pytest.raises(RegistryConfigError):
        parse_registries(data)
