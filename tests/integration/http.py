"""A tiny synchronous HTTPS client that talks to the test apiserver with the admin client certificate."""

from __future__ import annotations

import http.client
import json
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyk8s.pki.kubeconfig import load_kubeconfig


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class AdminHTTP:
    def __init__(self, kubeconfig: Path) -> None:
        info = load_kubeconfig(kubeconfig)
        self.host, port = info.server.removeprefix("https://").rsplit(":", 1)
        self.port = int(port)
        self.ctx = ssl.create_default_context(cadata=info.ca_pem.decode() if info.ca_pem else None)
        self.ctx.check_hostname = False
        self._tmp = tempfile.TemporaryDirectory()
        cert = Path(self._tmp.name) / "c.pem"
        key = Path(self._tmp.name) / "k.pem"
        assert info.client_cert_pem and info.client_key_pem
        cert.write_bytes(info.client_cert_pem)
        key.write_bytes(info.client_key_pem)
        self.cert_ctx = ssl.create_default_context(cadata=info.ca_pem.decode() if info.ca_pem else None)
        self.cert_ctx.check_hostname = False
        self.cert_ctx.load_cert_chain(cert, key)

    def request(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
                anonymous: bool = False, timeout: float = 30) -> Reply:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx if anonymous else self.cert_ctx,
                                           timeout=timeout)
        hdrs = dict(headers or {})
        data: bytes | None
        if body is None:
            data = None
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return Reply(resp.status, resp.headers, resp.read())
        finally:
            conn.close()


def make_default_service_account(api: AdminHTTP, namespace: str) -> None:
    """What the serviceaccount controller does in a real cluster: a ServiceAccount "default" in `namespace`.

    Only an apiserver runs in these tests, and the ServiceAccount admission plugin refuses pods whose account
    does not exist.
    """
    r = api.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts",
                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
    assert r.status in (201, 409), r.body
