"""An identity provider's signing keys (JWKS): parsed once, looked up by ``kid``, never fetched
while a request waits on the event loop.

``RemoteJwks`` keeps the last good key set and refetches it only when a token names a key it
does not know (or the set is older than ``max_age``), at most once per ``min_interval``, with
a short ``timeout``. An identity provider that hangs then costs one request at most
``timeout`` seconds per interval; every other request is answered from the cached keys, and
an unknown ``kid`` while no refetch is allowed is refused at once.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
import orjson

log = logging.getLogger(__name__)

# A JWKS is a few kilobytes; anything far larger is not one, and is not read into memory.
MAX_JWKS_BYTES = 1024 * 1024

# The JWK key type each JWS algorithm family signs with (RFC 7518 section 3.1).
_KEY_TYPE_OF_ALGORITHM = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


@dataclass(frozen=True)
class Jwk:
    kid: str
    kty: str
    alg: str | None
    key: Any

    def signs(self, algorithm: str) -> bool:
        """A key with ``alg`` verifies only that algorithm; one without, its key type's."""
        if self.alg is not None:
            return self.alg == algorithm
        return _KEY_TYPE_OF_ALGORITHM.get(algorithm[:2]) == self.kty


class KeySource(Protocol):
    def get(self, kid: str) -> Jwk | None: ...


def parse_jwks(raw: bytes | str) -> dict[str, Jwk]:
    """Signing keys by ``kid``; keys without a ``kid``, or of a type we cannot use, are left out
    (a token could never select them)."""
    document = orjson.loads(raw)
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("a JWKS is an object with a 'keys' list")
    keys: dict[str, Jwk] = {}
    for entry in entries:
        jwk = _parse_key(entry)
        if jwk is not None:
            keys[jwk.kid] = jwk
    return keys


def _parse_key(entry: Any) -> Jwk | None:
    if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
        return None
    kid, kty, alg = entry.get("kid"), entry.get("kty"), entry.get("alg")
    if not isinstance(kid, str) or not isinstance(kty, str):
        return None
    if alg is not None and not isinstance(alg, str):
        return None
    try:
        key = jwt.PyJWK(entry).key
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as error:
        log.info("jwks key skipped", extra={"kid": kid, "reason": type(error).__name__})
        return None
    return Jwk(kid, kty, alg, key)


@dataclass(frozen=True)
class StaticJwks:
    """Keys from a file: read at startup, never refetched."""

    keys: Mapping[str, Jwk]

    def get(self, kid: str) -> Jwk | None:
        return self.keys.get(kid)


class RemoteJwks:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 2.0,
        min_interval: float = 30.0,
        max_age: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.min_interval = min_interval
        self.max_age = max_age
        self._clock = clock
        self._keys: dict[str, Jwk] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = threading.Lock()

    def get(self, kid: str) -> Jwk | None:
        return self._keys.get(kid)

    def claim_refetch(self, kid: str | None) -> bool:
        """True when the caller should refetch now (and nobody else may for a while)."""
        now = self._clock()
        with self._lock:
            if not self._wants(kid, now) or not self._allowed(now):
                return False
            self._attempted_at = now
            return True

    def _wants(self, kid: str | None, now: float) -> bool:
        stale = self._fetched_at is None or now - self._fetched_at >= self.max_age
        return stale or (kid is not None and kid not in self._keys)

    def _allowed(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self.min_interval

    def fetch(self) -> None:
        """Blocking: call from a thread. A failure keeps the keys we had."""
        try:
            keys = parse_jwks(self._download())
        except (OSError, ValueError) as error:
            log.warning(
                "jwks fetch failed, serving cached keys",
                extra={"url": self.url, "error": type(error).__name__, "cached": len(self._keys)},
            )
            return
        with self._lock:
            self._keys = keys
            self._fetched_at = self._clock()
        log.info("jwks fetched", extra={"url": self.url, "keys": len(keys)})

    def _download(self) -> bytes:
        request = urllib.request.Request(self.url, headers={"Accept": "application/json"})
        # The timeout bounds each socket operation; the caller bounds the whole wait.
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            body: bytes = response.read(MAX_JWKS_BYTES + 1)
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError("the JWKS is larger than a JWKS can be")
        return body
