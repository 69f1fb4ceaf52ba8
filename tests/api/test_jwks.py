"""Production tokens: RS256/ES256 verified against a JWKS file, issuer and audience checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from procflow.model.errors import Unauthenticated
from procflow.runtime.access import Role
from procflow.runtime.tokens import JwksVerifier

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
