"""Bearer tokens.

Development: HS256 JWTs signed with a secret kept in the data directory (``TokenIssuer``
mints and verifies them). Production: RS256/ES256 JWTs from an identity provider, verified
against its JWKS, a file or a URL (``JwksVerifier``). Either way the claim ``workspaces``
maps a workspace uuid (or ``*``) to the roles granted there, and ``iss``/``aud`` are checked.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Lock
from typing import Any, Protocol

import jwt

from procflow.model.errors import Unauthenticated
from procflow.runtime.access import Principal, Role

SECRET_FILE = "jwt-secret"
ALGORITHM = "HS256"


def load_or_create_secret(data_dir: Path) -> str:
    """The signing secret, generated on first start and kept (mode 0600) in ``data_dir``."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        _publish_secret(path, secrets.token_urlsafe(48))
    secret = path.read_text().strip()
    if not secret:
        raise RuntimeError(f"{path} is empty; delete it to generate a new secret")
    return secret


def _publish_secret(path: Path, secret: str) -> None:
    """Write the secret in full under a private name, then link it into place.

    Replicas sharing a data directory may start together: each then sees either no file or
    a complete one, and the first link wins, so every replica signs with the same secret.
    """
    fd, staged = tempfile.mkstemp(dir=path.parent, prefix=f".{SECRET_FILE}-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secret + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(staged, path)
    finally:
        os.unlink(staged)


@dataclass(frozen=True)
class TokenIssuer:
    secret: str
    issuer: str
    audience: str

    def mint(
        self,
        subject: str,
        grants: Mapping[str, Iterable[Role]],
        lifetime: timedelta = timedelta(hours=12),
    ) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": subject,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + lifetime,
            "workspaces": {ws: sorted(r.value for r in roles) for ws, roles in grants.items()},
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        return _principal(token, self.secret, [ALGORITHM], self.issuer, self.audience)


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Principal: ...


ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


@dataclass(frozen=True)
class JwksVerifier:
    """Verifies provider-signed tokens; the key is chosen by the token's ``kid``."""

    keys: jwt.PyJWKSet | jwt.PyJWKClient
    issuer: str
    audience: str

    @classmethod
    def from_file(cls, path: Path, issuer: str, audience: str) -> JwksVerifier:
        return cls(jwt.PyJWKSet.from_json(path.read_text()), issuer, audience)

    @classmethod
    def from_url(cls, url: str, issuer: str, audience: str) -> JwksVerifier:
        return cls(jwt.PyJWKClient(url, cache_keys=True, lifespan=300), issuer, audience)

    def verify(self, token: str) -> Principal:
        try:
            key = self._key_for(token)
        except (jwt.PyJWKError, jwt.PyJWKClientError, jwt.InvalidTokenError, KeyError) as error:
            raise Unauthenticated(f"The bearer token is invalid: {error}.") from error
        return _principal(token, key, ASYMMETRIC_ALGORITHMS, self.issuer, self.audience)

    def _key_for(self, token: str) -> Any:
        if isinstance(self.keys, jwt.PyJWKClient):
            return self.keys.get_signing_key_from_jwt(token).key
        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str):
            raise jwt.InvalidTokenError("the token names no key (kid)")
        return self.keys[kid].key


def _principal(
    token: str, key: Any, algorithms: list[str], issuer: str, audience: str
) -> Principal:
    # ``algorithms`` is fixed per verifier, so a token cannot pick "none" or switch an RSA
    # public key into an HMAC secret.
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise Unauthenticated("The bearer token has expired.") from error
    except jwt.InvalidTokenError as error:
        raise Unauthenticated(f"The bearer token is invalid: {error}.") from error
    return Principal(str(claims["sub"]), _roles(claims.get("workspaces")), float(claims["exp"]))


class CachingVerifier:
    """Remembers tokens already verified, until they expire.

    Clients send the same bearer token on every request; verifying its signature and
    claims each time was a tenth of the server's time under load. A cached token is still
    refused from the second its ``exp`` passes.
    """

    def __init__(self, inner: TokenVerifier, capacity: int = 4096) -> None:
        self._inner = inner
        self._capacity = capacity
        self._verified: OrderedDict[str, Principal] = OrderedDict()
        self._lock = Lock()

    def verify(self, token: str) -> Principal:
        with self._lock:
            principal = self._verified.get(token)
        if principal is not None and _still_valid(principal):
            return principal
        principal = self._inner.verify(token)
        with self._lock:
            self._verified[token] = principal
            if len(self._verified) > self._capacity:
                self._verified.popitem(last=False)
        return principal


def _still_valid(principal: Principal) -> bool:
    return principal.expires_at is not None and time.time() < principal.expires_at


def _roles(claim: Any) -> dict[str, frozenset[Role]]:
    if not isinstance(claim, Mapping):
        raise Unauthenticated("The bearer token has no workspaces claim.")
    roles: dict[str, frozenset[Role]] = {}
    for workspace, names in claim.items():
        if not isinstance(names, list):
            raise Unauthenticated("The workspaces claim must map workspaces to role lists.")
        roles[str(workspace)] = frozenset(Role(n) for n in names if n in Role._value2member_map_)
    return roles
