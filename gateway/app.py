"""The gateway's app factory: GraphQL at /mychat/graphql over both services and the broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp

from gateway.asgi import GatewayApp
from gateway.clients import AccountClient, ChatClient
from gateway.context import GatewayResources
from gateway.limits import GatewayLimits
from gateway.presence import Presence, create_presence_store
from gateway.schema import build_schema
from gateway.transport import (
    HttpTransport,
    InProcessTransport,
    ServiceTransport,
    TransportError,
)
from gateway.view import GatewayGraphQL
from mychat.background import running
from mychat.broker import Broker
from mychat.broker.factory import create_broker
from mychat.http import EXCEPTION_HANDLERS, AccessLogMiddleware, BodyLimitMiddleware, JSONResponse
from mychat.metrics import MetricsMiddleware, metrics_for, serve_metrics
from mychat.pages import REPO_WEB_DIST
from mychat.revocation import revocations_followed
from mychat.settings import ConfigurationError, Settings
from mychat.tokens import token_codec

GRAPHQL_PATH = "/mychat/graphql"
DRAIN_SECONDS = 5.0


def _service_transport(app: ASGIApp | None, base_url: str | None, name: str) -> ServiceTransport:
    """In-process when the app is given, else over HTTP to its URL."""
    if app is not None:
        return InProcessTransport(app, f"{name}.internal")
    if not base_url:
        raise ConfigurationError(
            f"MYCHAT_{name.upper()}_URL is required when the gateway runs on its own"
        )
    return HttpTransport(base_url)


def create_app(
    settings: Settings,
    *,
    auth_app: ASGIApp | None = None,
    chat_app: ASGIApp | None = None,
    broker: Broker | None = None,
) -> Starlette:
    embedded = auth_app is not None
    # Resolve secret and URLs now: a bad configuration refuses to start before binding a port.
    tokens = token_codec(settings, embedded=embedded)
    if auth_app is None and not settings.auth_url:
        raise ConfigurationError("MYCHAT_AUTH_URL is required when the gateway runs on its own")
    if chat_app is None and not settings.chat_url:
        raise ConfigurationError("MYCHAT_CHAT_URL is required when the gateway runs on its own")
    metrics = metrics_for(settings)
    view = GatewayGraphQL(
        build_schema(),
        allowed_origins=settings.allowed_origins,
        graphiql_page=(settings.web_dist or REPO_WEB_DIST) / "graphiql.html",
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            auth_http = _service_transport(auth_app, settings.auth_url, "auth")
            stack.push_async_callback(auth_http.aclose)
            chat_http = _service_transport(chat_app, settings.chat_url, "chat")
            stack.push_async_callback(chat_http.aclose)
            own_broker = broker is None
            active_broker = create_broker(settings) if broker is None else broker
            if own_broker:
                await active_broker.start()
                stack.push_async_callback(active_broker.close)
            resources = GatewayResources(
                auth_http,
                chat_http,
                active_broker,
                tokens,
                limits=GatewayLimits.from_settings(settings),
            )
            app.state.gateway = resources
            stack.push_async_callback(resources.touches.aclose)
            stack.push_async_callback(resources.connections.aclose)
            tokens.revoked.add_listener(resources.connections.sessions_revoked)
            presence = resources.presence = Presence(
                create_presence_store(settings),
                active_broker,
                lambda token: ChatClient(chat_http, token, resources.in_flight),
                settings.presence_ttl_seconds,
            )
            await presence.store.start()
            stack.push_async_callback(presence.store.close)
            stack.push_async_callback(presence.aclose)
            resources.connections.watcher = presence
            await stack.enter_async_context(running(presence.run(), "presence"))
            # Signed-out sessions: loaded from auth_service (the gateway has no database).
            load = AccountClient(auth_http, None, resources.in_flight).revoked_sessions
            await stack.enter_async_context(
                revocations_followed(active_broker, tokens.revoked, load)
            )
            if metrics is not None:
                metrics.watch_broker(active_broker)
                metrics.gauge_from(
                    "mychat_subscriptions_active",
                    "GraphQL subscriptions running now",
                    resources.limits.active_subscriptions,
                )
                stats = resources.shared_events.stats
                metrics.count_from(
                    "mychat_event_executions",
                    "Subscription events executed (once per template, or per subscriber)",
                    lambda: stats.executions,
                )
                metrics.count_from(
                    "mychat_event_renders",
                    "Subscription results filled in from a shared execution, one per viewer",
                    lambda: stats.renders,
                )
                metrics.count_from(
                    "mychat_event_direct_writes",
                    "Of those, written to the socket where the event arrived (no stream)",
                    lambda: stats.direct,
                )
                metrics.count_by_label_from(
                    "mychat_graphql_limit_refusals",
                    "GraphQL operations and WebSockets a gateway limit refused, by error code",
                    "code",
                    lambda: resources.limits.refusals,
                )
            if not embedded:  # embedded: assembly serves every app's metrics on one port
                stack.enter_context(serve_metrics(metrics, settings))
            yield
            # Let requests of cancelled subscriptions finish before the clients close.
            if resources.in_flight:
                await asyncio.wait(set(resources.in_flight), timeout=DRAIN_SECONDS)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        resources: GatewayResources = request.app.state.gateway
        failures = []
        for name, client in (("auth", resources.auth_http), ("chat", resources.chat_http)):
            try:
                answer = await client.request("GET", "/readyz")
                if answer.status != 200:
                    failures.append(name)
            except TransportError:
                failures.append(name)
        try:
            await resources.broker.check()
        except Exception:  # any broker failure means not ready; the probe says which part
            failures.append("broker")
        if failures:
            return JSONResponse({"status": "unavailable", "failing": failures}, status_code=503)
        return JSONResponse({"status": "ready"})

    handlers: Any = EXCEPTION_HANDLERS
    app = GatewayApp(
        graphql_path=GRAPHQL_PATH,
        graphql_view=view,
        metrics=metrics,
        routes=[
            Route(GRAPHQL_PATH, view, methods=["GET", "POST"]),
            WebSocketRoute(GRAPHQL_PATH, view),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        middleware=[
            Middleware(AccessLogMiddleware),
            Middleware(MetricsMiddleware, metrics, fixed_paths=(GRAPHQL_PATH,)),
            Middleware(BodyLimitMiddleware),
        ],
        exception_handlers=handlers,
        lifespan=lifespan,
    )
    app.state.metrics = metrics  # None unless MYCHAT_METRICS_PORT is set
    return app
