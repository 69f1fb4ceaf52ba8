"""Production tokens: RS256/ES256 verified against a JWKS file, issuer and audience checked."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from procflow.api.app import create_app
from procflow.model.errors import InvalidToken, Unauthenticated
from procflow.runtime.access import Role
from procflow.runtime.context import RuntimeContext
from procflow.runtime.jwks import RemoteJwks
from procflow.runtime.tokens import CachingVerifier, JwksVerifier, TokenIssuer, TokenVerifier
from tests.api.conftest import SECRET, Api
from tests.api.conftest import _settings as api_settings

WORKSPACE = "00000000-0000-0000-0000-000000000001"


def _claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": "svc",
        "iss": "https://idp.example/realms/x",
        "aud": "procflow",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "workspaces": {WORKSPACE: ["start"]},
    }
    return claims | overrides


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Any, Any]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = {
        "keys": [
            {
                **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key())),
                "kid": "rsa-1",
                "use": "sig",
                "alg": "RS256",
            },
            {
                **json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key())),
                "kid": "ec-1",
                "use": "sig",
                "alg": "ES256",
            },
        ]
    }
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    return path, rsa_key, ec_key


def test_rs256_and_es256_tokens_verify(keys: tuple[Path, Any, Any]) -> None:
    path, rsa_key, ec_key = keys
    verifier = JwksVerifier.from_file(path, "https://idp.example/realms/x", "procflow")
    for key, alg, kid in ((rsa_key, "RS256", "rsa-1"), (ec_key, "ES256", "ec-1")):
        token = jwt.encode(_claims(), key, algorithm=alg, headers={"kid": kid})
        principal = verifier.verify(token)
        assert principal.roles_in(UUID(WORKSPACE)) == {Role.START}


def test_bad_provider_tokens_are_rejected(keys: tuple[Path, Any, Any]) -> None:
    path, rsa_key, _ = keys
    verifier = JwksVerifier.from_file(path, "https://idp.example/realms/x", "procflow")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = [
        jwt.encode(_claims(aud="other"), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"}),
        jwt.encode(
            _claims(iss="https://evil"), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"}
        ),
        jwt.encode(_claims(), other, algorithm="RS256", headers={"kid": "rsa-1"}),
        jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": "unknown"}),
        jwt.encode(_claims(), rsa_key, algorithm="RS256"),
        # An HMAC token never passes, whatever its secret: the algorithm list is fixed.
        jwt.api_jws.PyJWS().encode(
            json.dumps(
                {
                    k: int(v.timestamp()) if isinstance(v, datetime) else v
                    for k, v in _claims().items()
                }
            ).encode(),
            "s" * 32,
            algorithm="HS256",
            headers={"kid": "rsa-1"},
        ),
        jwt.encode(
            _claims(exp=datetime.now(UTC) - timedelta(seconds=1)),
            rsa_key,
            algorithm="RS256",
            headers={"kid": "rsa-1"},
        ),
    ]
    for token in bad:
        with pytest.raises(Unauthenticated):
            verifier.verify(token)


# --- keys must sign with the token's alg; claims have strict shapes ------------------------


def _verifier(path: Path) -> JwksVerifier:
    return JwksVerifier.from_file(path, "https://idp.example/realms/x", "procflow")


def _refused(verifier: TokenVerifier, token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token)
    return caught.value


def test_a_key_of_another_type_than_the_alg_is_refused_not_a_crash(
    keys: tuple[Path, Any, Any],
) -> None:
    path, rsa_key, _ = keys
    # RS256 header, but the kid names the EC key: PyJWT raised ValueError (a 500) here.
    token = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": "ec-1"})
    assert _refused(_verifier(path), token).message == "Invalid token."


def test_a_key_with_an_alg_verifies_only_that_alg(tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{**public, "kid": "k", "alg": "RS256"}]}))
    # Same RSA key, another RSA algorithm: a valid signature, but not by this key's rules.
    token = jwt.encode(_claims(), rsa_key, algorithm="PS256", headers={"kid": "k"})
    _refused(_verifier(path), token)
    good = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": "k"})
    assert _verifier(path).verify(good).subject == "svc"


def test_a_key_without_alg_is_matched_by_its_key_type(tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    public.pop("alg", None)
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{**public, "kid": "k"}]}))
    verifier = _verifier(path)
    for alg in ("RS256", "PS256"):
        token = jwt.encode(_claims(), rsa_key, algorithm=alg, headers={"kid": "k"})
        assert verifier.verify(token).subject == "svc"
    ec_key = ec.generate_private_key(ec.SECP256R1())
    _refused(verifier, jwt.encode(_claims(), ec_key, algorithm="ES256", headers={"kid": "k"}))


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_dates_given_as_strings_are_refused(keys: tuple[Path, Any, Any], claim: str) -> None:
    path, rsa_key, _ = keys
    values = {"exp": "9999999999", "iat": "1", "nbf": "1"}
    token = jwt.encode(
        _claims(**{claim: values[claim]}), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"}
    )
    _refused(_verifier(path), token)


@pytest.mark.parametrize(
    "workspaces",
    [
        {WORKSPACE: [["start"]]},
        {WORKSPACE: "start"},
        {WORKSPACE: [1]},
        {"not-a-uuid": ["start"]},
        [WORKSPACE],
    ],
)
def test_workspaces_claims_of_another_shape_are_refused(
    keys: tuple[Path, Any, Any], workspaces: Any
) -> None:
    path, rsa_key, _ = keys
    token = jwt.encode(
        _claims(workspaces=workspaces), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"}
    )
    _refused(_verifier(path), token)


def test_401_bodies_are_generic_and_name_no_kid(api: Api, tmp_path: Path) -> None:
    verifier = TokenIssuer(SECRET, "procflow", "procflow")
    app = create_app(RuntimeContext(api.store), api_settings(tmp_path), verifier)
    forged = jwt.encode(
        {"sub": "x", "iss": "procflow", "aud": "procflow", "exp": 9999999999, "workspaces": {}},
        "another-secret-" + "y" * 40,
        algorithm="HS256",
        headers={"kid": "secret-kid-name"},
    )
    with TestClient(app) as client:
        answer = client.get(
            f"/api/runtime/wks/{api.workspace}/process-instances",
            headers={"Authorization": f"Bearer {forged}"},
        )
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["message"] == "Invalid token."
    assert body["errorKey"] == "error.authentication.invalid_token"
    assert "secret-kid-name" not in answer.text and "Signature" not in answer.text
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]


# --- a JWKS URL: refetched off the event loop, rate-limited, short timeout -----------------


class _JwksHandler(BaseHTTPRequestHandler):
    document = b'{"keys": []}'
    served = 0

    def do_GET(self) -> None:
        type(self).served += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.document)))
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, type[_JwksHandler]]]:
    handler = type("Handler", (_JwksHandler,), {"served": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_idp() -> Iterator[str]:
    """An identity provider that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/jwks"
    finally:
        listener.close()


def _jwks_document(key: Any, kid: str) -> bytes:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return json.dumps({"keys": [{**public, "kid": kid, "alg": "RS256"}]}).encode()


def test_an_unknown_kid_refetches_once_then_waits_for_the_interval(
    jwks_server: tuple[str, type[_JwksHandler]],
) -> None:
    url, handler = jwks_server
    now = [1000.0]
    jwks = RemoteJwks(url, timeout=2, min_interval=30, clock=lambda: now[0])
    verifier = JwksVerifier(jwks, "https://idp.example/realms/x", "procflow")
    old, rotated = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in "ab")
    handler.document = _jwks_document(old, "old")
    assert jwks.claim_refetch("old")
    jwks.fetch()
    assert verifier.verify(jwt.encode(_claims(), old, "RS256", headers={"kid": "old"}))
    handler.document = _jwks_document(rotated, "new")
    # The first refetch was just now: a new kid is refused without asking the provider.
    now[0] += 5
    new_token = jwt.encode(_claims(), rotated, "RS256", headers={"kid": "new"})
    assert not jwks.claim_refetch("new")
    _refused(verifier, new_token)
    assert handler.served == 1
    now[0] += 30
    assert jwks.claim_refetch("new")
    assert not jwks.claim_refetch("new"), "a second caller must not fetch too"
    jwks.fetch()
    assert verifier.verify(new_token).subject == "svc"
    assert handler.served == 2


def test_a_failed_fetch_keeps_the_cached_keys(
    jwks_server: tuple[str, type[_JwksHandler]],
) -> None:
    url, handler = jwks_server
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    handler.document = _jwks_document(key, "k")
    jwks = RemoteJwks(url, timeout=2, min_interval=0)
    jwks.fetch()
    handler.document = b"<html>maintenance</html>"
    jwks.fetch()
    assert jwks.get("k") is not None


def test_a_silent_provider_costs_one_request_the_timeout_and_no_other(
    api: Api, tmp_path: Path, silent_idp: str
) -> None:
    jwks = RemoteJwks(silent_idp, timeout=0.5, min_interval=60)
    verifier = JwksVerifier(jwks, "https://idp.example/realms/x", "procflow")
    app = create_app(RuntimeContext(api.store), api_settings(tmp_path), verifier)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(), key, "RS256", headers={"kid": "unknown"})
    path = f"/api/runtime/wks/{api.workspace}/process-instances"
    with TestClient(app) as client:
        began = time.monotonic()
        first = client.get(path, headers={"Authorization": f"Bearer {token}"})
        first_took = time.monotonic() - began
        began = time.monotonic()
        second = client.get(path, headers={"Authorization": f"Bearer {token}"})
        second_took = time.monotonic() - began
    assert first.status_code == second.status_code == 401
    assert 0.4 < first_took < 1.5
    assert second_took < 0.2


def test_a_remembered_token_is_refused_once_its_key_is_rotated_out(
    jwks_server: tuple[str, type[_JwksHandler]],
) -> None:
    url, handler = jwks_server
    jwks = RemoteJwks(url, timeout=2, min_interval=0)
    verifier = CachingVerifier(JwksVerifier(jwks, "https://idp.example/realms/x", "procflow"))
    old, rotated = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in "ab")
    handler.document = _jwks_document(old, "old")
    jwks.fetch()
    token = jwt.encode(_claims(), old, "RS256", headers={"kid": "old"})
    assert verifier.verify(token).subject == "svc"
    assert verifier.verify(token).subject == "svc"  # remembered
    handler.document = _jwks_document(rotated, "new")
    jwks.fetch()
    _refused(verifier, token)
    # The same kid with another key (a provider reusing kids): refused too.
    handler.document = _jwks_document(rotated, "old")
    jwks.fetch()
    _refused(verifier, token)
