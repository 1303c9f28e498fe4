"""Registry mirrors and per-host settings, read from a k3s-style registries.yaml.

    mirrors:
      docker.io:
        endpoint: ["http://127.0.0.1:5000"]
    configs:
      "127.0.0.1:5000":
        auth: {username: u, password: p}
        tls: {insecure_skip_verify: true, ca_file: /path/ca.crt}

A pull of a reference in domain D tries D's mirror endpoints in order (a `"*"` entry applies to every domain
without its own), then D's default upstream host. Settings in `configs` are looked up by an endpoint's host[:port].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from pyk8s.kubelet.cri.interface import AuthConfig
from pyk8s.kubelet.cri.runc.images.reference import is_loopback_host, registry_host


class RegistryConfigError(ValueError):
    """registries.yaml is malformed."""


@dataclass
class TLSConfig:
    insecure_skip_verify: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""


@dataclass
class HostConfig:
    auth: AuthConfig | None = None
    tls: TLSConfig = field(default_factory=TLSConfig)


@dataclass(frozen=True)
class Endpoint:
    """One place to fetch a repository from: `url` is scheme://host[:port] plus an optional path prefix."""

    url: str
    is_mirror: bool

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def api_base(self) -> str:
        """The URL the `/v2/...` paths hang off (a mirror path `/v2` given explicitly is not doubled)."""
        base = self.url.rstrip("/")
        return base[:-3] if base.endswith("/v2") else base


@dataclass
class RegistryConfig:
    mirrors: dict[str, list[str]] = field(default_factory=dict)  # domain → endpoint URLs
    configs: dict[str, HostConfig] = field(default_factory=dict)  # host[:port] → settings

    def endpoints(self, domain: str) -> list[Endpoint]:
        """Mirror endpoints for `domain` in order, then its default upstream host."""
        urls = self.mirrors.get(domain, self.mirrors.get("*", []))
        result = [Endpoint(url=_with_scheme(u), is_mirror=True) for u in urls]
        host = registry_host(domain)
        default = Endpoint(url=("http://" if is_loopback_host(host) else "https://") + host, is_mirror=False)
        if all(e.url.rstrip("/") != default.url for e in result):
            result.append(default)
        return result

    def host_config(self, host: str) -> HostConfig:
        """Settings for an endpoint host; matches host[:port], then the bare host, then a URL-keyed entry."""
        for key in (host, host.rsplit(":", 1)[0], f"https://{host}", f"http://{host}"):
            if key in self.configs:
                return self.configs[key]
        return HostConfig()


def _with_scheme(url: str) -> str:
    if "://" in url:
        return url.rstrip("/")
    return ("http://" if is_loopback_host(url.split("/", 1)[0]) else "https://") + url.rstrip("/")


def parse_registries(data: Any) -> RegistryConfig:
    """Build a RegistryConfig from the decoded registries.yaml (None or {} = no mirrors, no settings)."""
    if data is None:
        return RegistryConfig()
    if not isinstance(data, dict):
        raise RegistryConfigError("registries config must be a mapping with mirrors and configs")
    config = RegistryConfig()
    mirrors = data.get("mirrors") or {}
    if not isinstance(mirrors, dict):
        raise RegistryConfigError("mirrors must be a mapping of registry name to {endpoint: [...]}")
    for domain, entry in mirrors.items():
        endpoints = (entry or {}).get("endpoint", []) if isinstance(entry, dict) else None
        if not isinstance(endpoints, list) or not all(isinstance(e, str) and e for e in endpoints):
            raise RegistryConfigError(f"mirrors.{domain}.endpoint must be a list of URLs")
        config.mirrors[str(domain)] = list(endpoints)
    configs = data.get("configs") or {}
    if not isinstance(configs, dict):
        raise RegistryConfigError("configs must be a mapping of registry host to {auth, tls}")
    for host, entry in configs.items():
        entry = entry or {}
        if not isinstance(entry, dict):
            raise RegistryConfigError(f"configs.{host} must be a mapping")
        auth = entry.get("auth")
        tls = entry.get("tls") or {}
        if (auth is not None and not isinstance(auth, dict)) or not isinstance(tls, dict):
            raise RegistryConfigError(f"configs.{host}: auth and tls must be mappings")
        config.configs[str(host)] = HostConfig(
            auth=AuthConfig(username=str(auth.get("username", "")), password=str(auth.get("password", "")),
                            auth=str(auth.get("auth", "")), identity_token=str(auth.get("identity_token", "")))
            if auth else None,
            tls=TLSConfig(insecure_skip_verify=bool(tls.get("insecure_skip_verify", False)),
                          ca_file=str(tls.get("ca_file", "")), cert_file=str(tls.get("cert_file", "")),
                          key_file=str(tls.get("key_file", ""))))
    return config


def load_registries(path: str | Path) -> RegistryConfig:
    """Read registries.yaml; a missing file means no mirrors (as in k3s)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return RegistryConfig()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise RegistryConfigError(f"{path}: {str(e).splitlines()[0]}") from None
    return parse_registries(data)
