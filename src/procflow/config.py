"""Settings, read once from the environment (``PROCFLOW_*``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from procflow.model.limits import DEFAULT_MAX_DATA_BYTES

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_HEADER_BYTES = 16 * 1024
DEFAULT_MAX_HEADER_FIELD_BYTES = 8 * 1024
SQLITE_SYNCHRONOUS_MODES = ("NORMAL", "FULL", "EXTRA")
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
    # How long a claimed job stays a worker's before another may take it (a killed
    # worker's jobs wait this long); serve's embedded worker and the default of
    # ``procflow worker --lease``.
    job_lease_seconds: float = 30.0
    # The serialised size an instance's data may reach (a 413 past it).
    max_data_bytes: int = DEFAULT_MAX_DATA_BYTES
    # HTTP limits (docs/operations.md, "Limits: HTTP").
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_header_field_bytes: int = DEFAULT_MAX_HEADER_FIELD_BYTES
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    keep_alive_seconds: float = 5.0
    # A JWKS URL is refetched at most once per refetch interval, each fetch bounded by timeout.
    jwks_timeout_seconds: float = 2.0
    jwks_refetch_seconds: float = 30.0
    # None: /metrics is served on the API port to an admin or PROCFLOW_METRICS_TOKEN bearer
    # only; a port: also served there, without authentication.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    metrics_token: str | None = None
    # NORMAL: an OS crash or power loss can lose the last commits; FULL: fsync every commit.
    sqlite_synchronous: str = "NORMAL"
    # The longest a fetch-and-lock long-polls, whatever its asyncResponseTimeout asks.
    max_long_poll_seconds: float = 1800.0
    # One info line per HTTP request (method, route, status, duration, workspace, subject).
    access_log: bool = True
    # How stale the live-instances gauge of /metrics may get before it is re-read.
    metrics_resync_seconds: float = 30.0
    # Batches: items per transaction and the most items a second (0: no cap).
    batch_slice_size: int = 50
    batch_items_per_second: float = 500.0
    # The most of its time a batch lane keeps a worker busy (1: no cap), and how far the
    # contention back-off may slow it further (1: no back-off; runtime/throttle.py).
    batch_duty_cycle: float = 1.0
    batch_max_slowdown: float = 4.0
    batch_contention_tolerance: float = 1.0
    # Chains of slices of one batch that run side by side, on as many workers.
    batch_lanes: int = 2
    # Batch slices run this many nice steps below the worker's other work (0: the same).
    batch_nice: int = 10
    # How deep a tree of call activities may grow (a child deeper than this: an incident).
    max_call_depth: int = 50

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            data_dir=Path(env.get("PROCFLOW_DATA_DIR", ".procflow")),
            database_url=env.get("PROCFLOW_DATABASE_URL") or None,
            host=env.get("PROCFLOW_HOST", "127.0.0.1"),
            port=_int(env, "PROCFLOW_PORT", "8080"),
            max_body_bytes=_int(env, "PROCFLOW_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            jwt_issuer=env.get("PROCFLOW_JWT_ISSUER", "procflow"),
            jwt_audience=env.get("PROCFLOW_JWT_AUDIENCE", "procflow"),
            jwks_file=Path(env["PROCFLOW_JWKS_FILE"]) if env.get("PROCFLOW_JWKS_FILE") else None,
            jwks_url=env.get("PROCFLOW_JWKS_URL") or None,
            seed_demo=env.get("PROCFLOW_DEMO", "1") != "0",
            embedded_worker=_tristate(env.get("PROCFLOW_EMBEDDED_WORKER", "auto")),
            job_lease_seconds=_float(env, "PROCFLOW_JOB_LEASE_SECONDS", "30"),
            max_data_bytes=_int(env, "PROCFLOW_MAX_DATA_BYTES", DEFAULT_MAX_DATA_BYTES),
            max_header_bytes=_int(env, "PROCFLOW_MAX_HEADER_BYTES", DEFAULT_MAX_HEADER_BYTES),
            max_header_field_bytes=int(
                env.get("PROCFLOW_MAX_HEADER_FIELD_BYTES", DEFAULT_MAX_HEADER_FIELD_BYTES)
            ),
            header_timeout_seconds=_float(env, "PROCFLOW_HEADER_TIMEOUT_SECONDS", "10"),
            body_timeout_seconds=_float(env, "PROCFLOW_BODY_TIMEOUT_SECONDS", "30"),
            keep_alive_seconds=_float(env, "PROCFLOW_KEEP_ALIVE_SECONDS", "5"),
            jwks_timeout_seconds=_float(env, "PROCFLOW_JWKS_TIMEOUT_SECONDS", "2"),
            jwks_refetch_seconds=_float(env, "PROCFLOW_JWKS_REFETCH_SECONDS", "30"),
            metrics_port=_int(env, "PROCFLOW_METRICS_PORT", "")
            if env.get("PROCFLOW_METRICS_PORT")
            else None,
            metrics_host=env.get("PROCFLOW_METRICS_HOST", "127.0.0.1"),
            metrics_token=env.get("PROCFLOW_METRICS_TOKEN") or None,
            sqlite_synchronous=_sqlite_synchronous(
                env.get("PROCFLOW_SQLITE_SYNCHRONOUS", "NORMAL")
            ),
            access_log=env.get("PROCFLOW_ACCESS_LOG", "1") not in ("0", "false", "no"),
            max_long_poll_seconds=_float(env, "PROCFLOW_MAX_LONG_POLL_SECONDS", "1800"),
            metrics_resync_seconds=_float(env, "PROCFLOW_METRICS_RESYNC_SECONDS", "30"),
            batch_slice_size=max(1, _int(env, "PROCFLOW_BATCH_SLICE_SIZE", "50")),
            batch_items_per_second=_float(env, "PROCFLOW_BATCH_ITEMS_PER_SECOND", "500"),
            batch_duty_cycle=_share(env.get("PROCFLOW_BATCH_DUTY_CYCLE", "1")),
            batch_max_slowdown=max(1.0, _float(env, "PROCFLOW_BATCH_MAX_SLOWDOWN", "4")),
            batch_contention_tolerance=max(
                0.0, _float(env, "PROCFLOW_BATCH_CONTENTION_TOLERANCE", "1")
            ),
            batch_lanes=max(1, _int(env, "PROCFLOW_BATCH_LANES", "2")),
            batch_nice=max(0, _int(env, "PROCFLOW_BATCH_NICE", "10")),
            max_call_depth=_int(env, "PROCFLOW_MAX_CALL_DEPTH", "50"),
        )


def _int(env: Mapping[str, str], name: str, default: str | int) -> int:
    try:
        return int(env.get(name, default))
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {env.get(name)!r}") from None


def _float(env: Mapping[str, str], name: str, default: str) -> float:
    try:
        return float(env.get(name, default))
    except ValueError:
        raise ValueError(f"{name} must be a number, not {env.get(name)!r}") from None


def _tristate(value: str) -> bool | None:
    if value == "auto":
        return None
    return value not in ("0", "false", "no")


def _share(value: str) -> float:
    share = float(value)
    if not 0 < share <= 1:
        raise ValueError("PROCFLOW_BATCH_DUTY_CYCLE must be more than 0 and at most 1")
    return share


def _sqlite_synchronous(value: str) -> str:
    mode = value.strip().upper()
    if mode not in SQLITE_SYNCHRONOUS_MODES:
        raise ValueError(f"PROCFLOW_SQLITE_SYNCHRONOUS must be one of {SQLITE_SYNCHRONOUS_MODES}")
    return mode
