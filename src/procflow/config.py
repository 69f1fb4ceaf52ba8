"""Settings, read once from the environment (``PROCFLOW_*``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEMO_WORKSPACE_ID = "00000000-0000-0000-0000-000000000001"
DEMO_APP_ID = "00000000-0000-0000-0000-0000000000a1"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None
    host: str
    port: int
    max_body_bytes: int
    jwt_issuer: str
    jwt_audience: str
    jwks_file: Path | None
    jwks_url: str | None
    seed_demo: bool
    # None: decide by the store (SQLite runs a worker inside serve, PostgreSQL does not).
    embedded_worker: bool | None
    # One info line per HTTP request (method, route, status, duration, workspace, subject).
    access_log: bool = True
    # How stale the live-instances gauge of /metrics may get before it is re-read.
    metrics_resync_seconds: float = 30.0

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            data_dir=Path(env.get("PROCFLOW_DATA_DIR", ".procflow")),
            database_url=env.get("PROCFLOW_DATABASE_URL") or None,
            host=env.get("PROCFLOW_HOST", "127.0.0.1"),
            port=int(env.get("PROCFLOW_PORT", "8080")),
            max_body_bytes=int(env.get("PROCFLOW_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
            jwt_issuer=env.get("PROCFLOW_JWT_ISSUER", "procflow"),
            jwt_audience=env.get("PROCFLOW_JWT_AUDIENCE", "procflow"),
            jwks_file=Path(env["PROCFLOW_JWKS_FILE"]) if env.get("PROCFLOW_JWKS_FILE") else None,
            jwks_url=env.get("PROCFLOW_JWKS_URL") or None,
            seed_demo=env.get("PROCFLOW_DEMO", "1") != "0",
            embedded_worker=_tristate(env.get("PROCFLOW_EMBEDDED_WORKER", "auto")),
            access_log=env.get("PROCFLOW_ACCESS_LOG", "1") not in ("0", "false", "no"),
            metrics_resync_seconds=float(env.get("PROCFLOW_METRICS_RESYNC_SECONDS", "30")),
        )


def _tristate(value: str) -> bool | None:
    if value == "auto":
        return None
    return value not in ("0", "false", "no")
