"""Bearer tokens: HS256 JWTs signed with a secret kept in the data directory.

The claim ``workspaces`` maps a workspace uuid (or ``*``) to the roles granted there.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from procflow.model.errors import Unauthenticated
from procflow.runtime.access import Principal, Role

SECRET_FILE = "jwt-secret"
ALGORITHM = "HS256"


def load_or_create_secret(data_dir: Path) -> str:
    """The signing secret, generated on first start and kept (mode 0600) in ``data_dir``."""
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret + "\n")
    return secret


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
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthenticated("The bearer token has expired.") from error
        except jwt.InvalidTokenError as error:
            raise Unauthenticated(f"The bearer token is invalid: {error}.") from error
        return Principal(str(claims["sub"]), _roles(claims.get("workspaces")))


def _roles(claim: Any) -> dict[str, frozenset[Role]]:
    if not isinstance(claim, Mapping):
        raise Unauthenticated("The bearer token has no workspaces claim.")
    roles: dict[str, frozenset[Role]] = {}
    for workspace, names in claim.items():
        if not isinstance(names, list):
            raise Unauthenticated("The workspaces claim must map workspaces to role lists.")
        roles[str(workspace)] = frozenset(Role(n) for n in names if n in Role._value2member_map_)
    return roles
