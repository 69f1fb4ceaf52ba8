"""Bearer tokens.

Development: HS256 JWTs signed with a secret kept in the data directory (``TokenIssuer``
mints and verifies them). Production: RS256/ES256 JWTs from an identity provider, verified
against its JWKS, a file or a URL (``JwksVerifier``). Either way the claim ``workspaces``
maps a workspace uuid (or ``*``) to the roles granted there, and ``iss``/``aud`` are checked.
"""

from __future__ import annotations

import contextlib
import logging
import math
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
from uuid import UUID

import jwt

from procflow.model.errors import InvalidToken
from procflow.runtime.access import ANY_WORKSPACE, Principal, Role
from procflow.runtime.jwks import KeySource, StaticJwks, parse_jwks

log = logging.getLogger(__name__)

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


ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")


@dataclass(frozen=True)
class JwksVerifier:
    """Verifies provider-signed tokens; the key is chosen by the token's ``kid``, and must be
    one that signs with the token's ``alg``."""

    keys: KeySource
    issuer: str
    audience: str

    @classmethod
    def from_file(cls, path: Path, issuer: str, audience: str) -> JwksVerifier:
        return cls(StaticJwks(parse_jwks(path.read_bytes())), issuer, audience)

    def verify(self, token: str) -> Principal:
        header = _unverified_header(token)
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ASYMMETRIC_ALGORITHMS:
            raise _invalid("algorithm not allowed", alg=str(algorithm)[:32])
        if not isinstance(kid, str):
            raise _invalid("the token names no key (kid)")
        jwk = self.keys.get(kid)
        if jwk is None:
            raise _invalid("unknown kid", kid=kid[:64])
        if not jwk.signs(algorithm):
            raise _invalid("the key does not sign with the token's alg", kid=kid, alg=algorithm)
        return _principal(token, jwk.key, [algorithm], self.issuer, self.audience)


def unverified_kid(token: str) -> str | None:
    """The ``kid`` a token names, read without verifying anything (to pick or fetch keys)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None
    return kid if isinstance(kid, str) else None


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise _invalid("malformed token", error=str(error)) from error


def _invalid(reason: str, **detail: str) -> InvalidToken:
    log.info("bearer token refused", extra={"reason": reason, **detail})
    return InvalidToken()


# Numeric dates only (RFC 7519 section 2): PyJWT would also take "exp": "9999999999".
_DATE_CLAIMS = ("exp", "iat", "nbf")


def _principal(
    token: str, key: Any, algorithms: list[str], issuer: str, audience: str
) -> Principal:
    # ``algorithms`` is fixed per verifier (or per key), so a token cannot pick "none" or
    # switch an RSA public key into an HMAC secret.
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
        raise _invalid("expired") from error
    # ValueError/TypeError: a key PyJWT cannot use with this algorithm, a NaN date, ...
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise _invalid(type(error).__name__, error=str(error)[:200]) from error
    for name in _DATE_CLAIMS:
        if name in claims and not _is_numeric_date(claims[name]):
            raise _invalid(f"{name} is not a number")
    return Principal(str(claims["sub"]), _roles(claims.get("workspaces")), float(claims["exp"]))


def _is_numeric_date(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    # The provider's key that verified the token (None: the shared development secret).
    kid: str | None = None
    key: object | None = None


class CachingVerifier:
    """Remembers tokens already verified, until they expire or their key is rotated out.

    Clients send the same bearer token on every request; verifying its signature and
    claims each time was a tenth of the server's time under load. A cached token is still
    refused from the second its ``exp`` passes, and once the provider's key set no longer
    holds (the same) key for its ``kid``. A token before its ``nbf`` fails verification and
    is never cached.
    """

    def __init__(self, inner: TokenVerifier, capacity: int = 4096) -> None:
        self._inner = inner
        self._keys = inner.keys if isinstance(inner, JwksVerifier) else None
        self._capacity = capacity
        self._verified: OrderedDict[str, _Verified] = OrderedDict()
        self._lock = Lock()

    def verify(self, token: str) -> Principal:
        with self._lock:
            entry = self._verified.get(token)
        if entry is not None and self._still_trusted(entry):
            return entry.principal
        kid, key = self._key_of(token)
        principal = self._inner.verify(token)
        if self._keys is not None and (key is None or self._keys.get(kid or "") is not key):
            return principal  # the keys changed while we verified: trust it only this once
        with self._lock:
            self._verified[token] = _Verified(principal, kid, key)
            if len(self._verified) > self._capacity:
                self._verified.popitem(last=False)
        return principal

    def _key_of(self, token: str) -> tuple[str | None, object | None]:
        if self._keys is None:
            return None, None
        kid = unverified_kid(token)
        return kid, self._keys.get(kid) if kid is not None else None

    def _still_trusted(self, entry: _Verified) -> bool:
        if not _still_valid(entry.principal):
            return False
        return self._keys is None or self._keys.get(entry.kid or "") is entry.key


def _still_valid(principal: Principal) -> bool:
    return principal.expires_at is not None and time.time() < principal.expires_at


def _roles(claim: Any) -> dict[str, frozenset[Role]]:
    """``{"<workspace uuid>" | "*": ["start", ...]}``, strictly: any other shape is an invalid
    token. Role names we do not know are ignored (a provider may carry others)."""
    if not isinstance(claim, Mapping):
        raise _invalid("no workspaces claim")
    roles: dict[str, frozenset[Role]] = {}
    for workspace, names in claim.items():
        key = _workspace_key(workspace)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise _invalid("workspaces must map to lists of role names")
        roles[key] = frozenset(Role(n) for n in names if n in Role._value2member_map_)
    return roles


def _workspace_key(workspace: Any) -> str:
    if workspace == ANY_WORKSPACE:
        return ANY_WORKSPACE
    try:
        return str(UUID(workspace))
    except (ValueError, TypeError, AttributeError) as error:
        raise _invalid("workspaces keys must be workspace uuids or *") from error
