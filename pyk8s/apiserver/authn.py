"""Authentication: who is calling, from the TLS client certificate or a bearer token.

Client certificates: CN is the user name, each O a group (as upstream's x509 authenticator). Bearer
tokens: a static token file in upstream's CSV format (``token,user,uid,"group1,group2"``), and
service-account JWTs (pyk8s.apiserver.satokens) when a verifier is given. Every authenticated user is
also in ``system:authenticated``. No credentials -> 401 (anonymous auth is off).
"""

from __future__ import annotations

import csv
import hmac
import io
import ssl
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from pyk8s.api import errors
from pyk8s.apiserver.registry.strategy import UserInfo

AUTHENTICATED = "system:authenticated"


def load_token_file(path: str | Path) -> dict[str, UserInfo]:
    """Parse upstream's --token-auth-file CSV."""
    users: dict[str, UserInfo] = {}
    text = Path(path).read_text()
    for row in csv.reader(io.StringIO(text)):
        if not row or row[0].startswith("#"):
            continue
        if len(row) < 3:
            raise ValueError(f"token file {path}: each line needs token,user,uid[,groups]")
        groups = [g for g in row[3].split(",") if g] if len(row) > 3 else []
        users[row[0]] = UserInfo(name=row[1], uid=row[2], groups=groups)
    return users


# Turns a bearer token that looks like a JWT into its user, or None when it is not valid.
JWTAuthenticator = Callable[[str], Awaitable[UserInfo | None]]


class Authenticator:
    def __init__(self, tokens: dict[str, UserInfo] | None = None, jwt: JWTAuthenticator | None = None) -> None:
        self.tokens = tokens or {}
        self.jwt = jwt
        # A connection's client certificate never changes: parse it once per TLS connection.
        self._cert_users: weakref.WeakKeyDictionary[Any, UserInfo | None] = weakref.WeakKeyDictionary()

    async def authenticate(self, request: web.Request) -> UserInfo:
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
            for known, user in self.tokens.items():
                if hmac.compare_digest(known.encode(), token.encode()):
                    return _with_authenticated(user)
            if self.jwt is not None and token.count(".") == 2:
                found = await self.jwt(token)
                if found is not None:
                    return _with_authenticated(found)
        # Like upstream's union authenticator: a valid client certificate still counts.
        transport = request.transport
        try:
            from_cert = self._cert_users[transport]
        except (KeyError, TypeError):
            from_cert = self._from_certificate(request)
            if transport is not None:
                self._cert_users[transport] = from_cert
        if from_cert is not None:
            return _with_authenticated(from_cert)
        raise errors.Unauthorized("Unauthorized")

    @staticmethod
    def _from_certificate(request: web.Request) -> UserInfo | None:
        transport = request.transport
        if transport is None:
            return None
        ssl_obj = transport.get_extra_info("ssl_object")
        if not isinstance(ssl_obj, ssl.SSLObject):
            return None
        cert = ssl_obj.getpeercert()
        if not cert:
            return None
        cn = ""
        groups: list[str] = []
        subject: Any = cert.get("subject", ())
        for rdn in subject:
            for key, value in rdn:
                if key == "commonName":
                    cn = value
                elif key == "organizationName":
                    groups.append(value)
        if not cn:
            return None
        return UserInfo(name=cn, groups=groups)


def _with_authenticated(user: UserInfo) -> UserInfo:
    groups = list(user.groups)
    if AUTHENTICATED not in groups:
        groups.append(AUTHENTICATED)
    return UserInfo(name=user.name, groups=groups, uid=user.uid, extra=dict(user.extra))
