"""``procflow``: serve, deploy, token."""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from uuid import UUID

import prometheus_client
import typer

from procflow.api.app import create_app
from procflow.api.server import run_server
from procflow.cli.banner import print_banner
from procflow.cli.batches import batch_app
from procflow.cli.http import TokenOption
from procflow.cli.instances import instances_app
from procflow.cli.remote import instance_app
from procflow.cli.remote_deploy import deploy_over_http
from procflow.config import Settings
from procflow.logs import configure_logging
from procflow.model.errors import ProcflowError
from procflow.model.export import export_file
from procflow.model.limits import DataLimits
from procflow.runtime import deploy
from procflow.runtime.access import ANY_WORKSPACE, SYSTEM, Role
from procflow.runtime.batch_spec import BatchSettings
from procflow.runtime.context import RuntimeContext, utc_now
from procflow.runtime.demo import DEFINITION_SUFFIXES, seed_demo
from procflow.runtime.jwks import RemoteJwks
from procflow.runtime.tokens import (
    JwksVerifier,
    TokenIssuer,
    TokenVerifier,
    load_or_create_secret,
)
from procflow.runtime.worker import Worker, WorkerSettings, start_embedded_worker
from procflow.store.factory import open_store
from procflow.store.port import Store

app = typer.Typer(
    help="Procflow: a durable process runtime.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(instance_app, name="instance")
app.add_typer(instances_app, name="instances")
app.add_typer(batch_app, name="batch")


def _store(settings: Settings) -> Store:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(
        settings.database_url, settings.data_dir, sqlite_synchronous=settings.sqlite_synchronous
    )
    store.migrate()
    return store


def _context(settings: Settings, store: Store) -> RuntimeContext:
    batches = BatchSettings(
        settings.batch_slice_size,
        settings.batch_items_per_second,
        lanes=settings.batch_lanes,
        nice=settings.batch_nice,
        duty_cycle=settings.batch_duty_cycle,
        max_slowdown=settings.batch_max_slowdown,
        contention_tolerance=settings.batch_contention_tolerance,
    )
    limits = DataLimits(max_bytes=settings.max_data_bytes)
    return RuntimeContext(
        store, data_limits=limits, batches=batches, max_call_depth=settings.max_call_depth
    )


def _issuer(settings: Settings) -> TokenIssuer:
    secret = load_or_create_secret(settings.data_dir)
    return TokenIssuer(secret, settings.jwt_issuer, settings.jwt_audience)


def _verifier(settings: Settings, issuer: TokenIssuer) -> TokenVerifier:
    """A configured JWKS replaces the development secret entirely."""
    if settings.jwks_file is not None:
        return JwksVerifier.from_file(
            settings.jwks_file, settings.jwt_issuer, settings.jwt_audience
        )
    if settings.jwks_url is not None:
        keys = RemoteJwks(
            settings.jwks_url,
            timeout=settings.jwks_timeout_seconds,
            min_interval=settings.jwks_refetch_seconds,
        )
        return JwksVerifier(keys, settings.jwt_issuer, settings.jwt_audience)
    return issuer


def _settings() -> Settings:
    """The settings from the environment; a bad value is one clear line and exit code 2."""
    try:
        return Settings.from_env()
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from error


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="port (default PROCFLOW_PORT or 8080)")] = None,
    host: Annotated[str | None, typer.Option(help="interface (default 127.0.0.1)")] = None,
) -> None:
    """Run the HTTP API (and, on SQLite, an embedded worker)."""
    settings = _settings()
    configure_logging()
    store = _store(settings)
    issuer = _issuer(settings)
    if settings.seed_demo:
        seed_demo(store, utc_now())
    ctx = _context(settings, store)
    if _wants_embedded_worker(settings, store):
        start_embedded_worker(ctx, WorkerSettings(lease_seconds=settings.job_lease_seconds))
    bind_host, bind_port = host or settings.host, port or settings.port
    verifier = _verifier(settings, issuer)
    print_banner(issuer, bind_host, bind_port, demo=settings.seed_demo and verifier is issuer)
    if settings.metrics_port is not None:
        prometheus_client.start_http_server(settings.metrics_port, addr=settings.metrics_host)
    run_server(create_app(ctx, settings, verifier), settings, bind_host, bind_port)


def _wants_embedded_worker(settings: Settings, store: Store) -> bool:
    """SQLite runs its worker inside ``serve``; PostgreSQL deployments run ``procflow worker``
    processes unless PROCFLOW_EMBEDDED_WORKER=1 asks for one here too."""
    if settings.embedded_worker is None:
        return store.dialect == "sqlite"
    return settings.embedded_worker


@app.command()
def worker(
    lease: Annotated[
        float | None,
        typer.Option(help="seconds a claimed job stays ours (default PROCFLOW_JOB_LEASE_SECONDS)"),
    ] = None,
    batch: Annotated[int, typer.Option(help="jobs claimed at once")] = 16,
    metrics_port: Annotated[
        int | None, typer.Option(help="serve Prometheus metrics on this port")
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="interface for --metrics-port")] = "127.0.0.1",
) -> None:
    """Run jobs (async tasks, timers, timer starts) until interrupted: claim, apply exactly
    once, repeat."""
    settings = _settings()
    configure_logging()
    store = _store(settings)
    if metrics_port is not None:
        prometheus_client.start_http_server(metrics_port, addr=metrics_host)
    ctx = _context(settings, store)
    lease_seconds = lease if lease is not None else settings.job_lease_seconds
    runner = Worker(ctx, WorkerSettings(lease_seconds=lease_seconds, batch_size=batch))
    signal.signal(signal.SIGTERM, lambda *_: runner.stop())
    try:
        runner.run_forever()
    except KeyboardInterrupt:
        runner.stop()
    finally:
        store.close()


@app.command(name="deploy")
def deploy_command(
    path: Annotated[Path, typer.Argument(help="a definition file or a directory of them")],
    workspace: Annotated[UUID, typer.Option(help="workspace id")],
    app_id: Annotated[UUID, typer.Option("--app", help="app id")],
    activate: Annotated[bool, typer.Option(help="make it the app's active build")] = False,
    create: Annotated[bool, typer.Option(help="create the workspace/app if missing")] = True,
    url: Annotated[
        str | None, typer.Option("--url", help="deploy to this running server over HTTP")
    ] = None,
    token: TokenOption = "",
) -> None:
    """Deploy definition files as a new build of an app (into the local store, or to a
    running server with --url)."""
    files = _read_files(path)
    if url is not None:
        deploy_over_http(url, token, workspace, app_id, files, activate=activate, create=create)
        return
    settings = _settings()
    store = _store(settings)
    try:
        if create:
            _ensure_workspace_and_app(store, workspace, app_id)
        deployed = deploy.deploy_or_reuse(
            store, SYSTEM, workspace, app_id, files, activate=activate, now=utc_now()
        )
    except ProcflowError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(code=1) from error
    for warning in deployed.warnings:
        typer.echo(f"warning: {warning}", err=True)
    build = deployed.build
    names = ", ".join(d.name for d in build.definitions)
    state = "active" if activate else "not active"
    typer.echo(f"build {build.id} ({state}, {build.checksum}): {names}")


def _read_files(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {
            p.name: p.read_bytes()
            for p in sorted(path.iterdir())
            if p.suffix in DEFINITION_SUFFIXES
        }
    if not path.is_file():
        typer.echo(f"error: {path} does not exist", err=True)
        raise typer.Exit(code=1)
    return {path.name: path.read_bytes()}


def _ensure_workspace_and_app(store: Store, workspace: UUID, app_id: UUID) -> None:
    with store.transaction() as txn:
        has_workspace = txn.get_workspace(workspace) is not None
        has_app = txn.get_app(app_id) is not None
    if not has_workspace:
        deploy.create_workspace(store, SYSTEM, str(workspace), workspace)
    if not has_app:
        deploy.create_app(store, SYSTEM, workspace, str(app_id), app_id)


@app.command(name="export")
def export_command(
    path: Annotated[Path, typer.Argument(help="a YAML, JSON or BPMN definition file")],
    process: Annotated[
        str | None, typer.Option(help="which process of a multi-process file")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write")] = None,
) -> None:
    """Write a definition as BPMN 2.0 XML with diagram layout (opens in bpmn.io).

    A BPMN file keeps the modeler's drawing; a YAML/JSON one is laid out automatically.
    """
    try:
        xml = export_file(path.read_bytes(), path.name, process)
    except OSError as error:
        typer.echo(f"error: cannot read {path}: {error.strerror}", err=True)
        raise typer.Exit(code=1) from error
    except ProcflowError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(code=1) from error
    if output is None:
        typer.echo(xml.decode(), nl=False)
    else:
        output.write_bytes(xml)
        typer.echo(f"wrote {output}")


@app.command()
def token(
    workspace: Annotated[list[str], typer.Option(help="workspace id, or * for every one")],
    role: Annotated[list[Role] | None, typer.Option(help="role (repeat); default: all")] = None,
    subject: Annotated[str, typer.Option(help="the token's subject")] = "dev",
    hours: Annotated[float, typer.Option(help="lifetime in hours")] = 12.0,
) -> None:
    """Print a signed bearer token for the given workspaces and roles."""
    roles = frozenset(role) if role else frozenset(Role)
    grants = {w if w == ANY_WORKSPACE else str(UUID(w)): roles for w in workspace}
    issuer = _issuer(_settings())
    typer.echo(issuer.mint(subject, grants, timedelta(hours=hours)))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
