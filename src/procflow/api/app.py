"""The ASGI application: routes mounted at ``/`` and again under ``/rtm``."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from procflow import __version__
from procflow.api import (
    console,
    docs,
    routes_admin,
    routes_batches,
    routes_camunda,
    routes_diagrams,
    routes_external_tasks,
    routes_instances,
    routes_messages,
    routes_operations,
    routes_start,
    schemas,
)
from procflow.api.http_guards import BodyTimeout, HeaderLimits, InternalErrors, SecurityHeaders
from procflow.api.jwks_refresh import JwksRefresh
from procflow.api.long_poll import TaskWakeups
from procflow.api.observe import RequestObserver
from procflow.api.openapi import install_openapi
from procflow.api.problems import install_problem_handlers, problem_response
from procflow.api.render import JsonResponse
from procflow.api.requests import principal_of
from procflow.config import Settings
from procflow.runtime import metrics
from procflow.runtime.context import RuntimeContext
from procflow.runtime.jwks import RemoteJwks
from procflow.runtime.tokens import CachingVerifier, JwksVerifier, TokenVerifier

RTM_PREFIX = "/rtm"

health = APIRouter(tags=["operations"])


@health.get(
    "/health/live",
    summary="The process is up",
    operation_id="getLiveness",
    response_model=schemas.Health,
)
async def live() -> Response:
    return JsonResponse({"status": "UP"})


@health.get(
    "/health/ready",
    summary="The database answers",
    operation_id="getReadiness",
    response_model=schemas.Health,
    responses=schemas.problems(503),
)
async def ready(request: Request) -> Response:
    ctx: RuntimeContext = request.app.state.ctx
    if await run_in_threadpool(ctx.store.ping):
        return JsonResponse({"status": "UP"})
    return problem_response(
        503, "not_ready", "The database does not answer.", "error.health.not_ready"
    )


@health.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    # Metrics name definitions and show traffic: on the API port only for an operator.
    # PROCFLOW_METRICS_PORT serves them unauthenticated on a port of their own.
    if not _is_metrics_scraper(request):
        principal_of(request).require_global_admin()
    # The store-backed gauges query the database: off the event loop.
    return Response(await run_in_threadpool(generate_latest), media_type=CONTENT_TYPE_LATEST)


def _is_metrics_scraper(request: Request) -> bool:
    expected: str | None = request.app.state.settings.metrics_token
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if expected is None or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def create_app(ctx: RuntimeContext, settings: Settings, verifier: TokenVerifier) -> FastAPI:
    app = FastAPI(
        title="Procflow runtime API",
        version=__version__,
        description="A durable process runtime, compatible with the FlowX.AI runtime API.",
        default_response_class=JsonResponse,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.settings = settings
    app.state.token_verifier = CachingVerifier(verifier)
    app.state.task_wakeups = TaskWakeups(ctx.store)
    install_problem_handlers(app)
    _add_middleware(app, settings, verifier)
    metrics.bind_store(ctx.store, ctx.clock, settings.metrics_resync_seconds)
    # A request is matched against the routes in the order they are included, one after
    # another: the calls made most often (starts, workers' fetch and complete, messages)
    # come first, and the /rtm copies only after every plain path.
    routers = (routes_start.router, routes_external_tasks.router, routes_messages.router,
               routes_instances.router, routes_operations.router,
               routes_batches.router)  # fmt: skip
    for router in routers:
        app.include_router(router)
    for router in routers:
        app.include_router(router, prefix=RTM_PREFIX, include_in_schema=False)
    app.include_router(routes_admin.router)
    app.include_router(routes_camunda.router)
    app.include_router(health)
    app.include_router(routes_diagrams.router)
    app.include_router(docs.router)
    app.include_router(console.router)
    install_openapi(app)
    return app


def _add_middleware(app: FastAPI, settings: Settings, verifier: TokenVerifier) -> None:
    """Innermost first: each ``add_middleware`` wraps the ones before it."""
    app.add_middleware(RequestObserver, log_requests=settings.access_log)
    if isinstance(verifier, JwksVerifier) and isinstance(verifier.keys, RemoteJwks):
        app.add_middleware(JwksRefresh, jwks=verifier.keys)
    app.add_middleware(BodyTimeout, seconds=settings.body_timeout_seconds)
    app.add_middleware(
        HeaderLimits,
        max_total=settings.max_header_bytes,
        max_field=settings.max_header_field_bytes,
    )
    app.add_middleware(InternalErrors)
    app.add_middleware(SecurityHeaders)
