"""What every service app shares: the factory shape, its lifespan resources, token checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mychat.broker import Broker
from mychat.db import create_engine, create_sessionmaker
from mychat.http import (
    EXCEPTION_HANDLERS,
    AccessLogMiddleware,
    ApiError,
    BodyLimitMiddleware,
    JSONResponse,
)
from mychat.metrics import MetricsMiddleware, metrics_for, serve_metrics
from mychat.revocation import revocations_followed
from mychat.revocation_db import revoked_sessions_loader
from mychat.settings import Settings
from mychat.tables import create_schema
from mychat.tokens import InvalidToken, TokenClaims, TokenCodec, bearer_token, token_codec


@dataclass
class ServiceResources:
    """Created by the lifespan, closed by it; reachable from handlers as request.app.state.res."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tokens: TokenCodec


ReadinessCheck = Callable[[], Awaitable[None]]


def resources(request: Request) -> ServiceResources:
    res: ServiceResources = request.app.state.res
    return res


def authenticate(request: Request) -> TokenClaims:
    """The caller's verified claims, or 401 {"error": "Unauthorized"} as the seed answered."""
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        raise ApiError(401, "unauthenticated", "Unauthorized")
    try:
        return resources(request).tokens.verify(token)
    except InvalidToken as error:
        raise ApiError(401, "unauthenticated", "Unauthorized") from error


def create_service_app(
    settings: Settings,
    routes: Sequence[BaseRoute],
    *,
    embedded: bool,
    broker: Broker,
    owns_broker: bool,
    extra_lifespan: Callable[[ServiceResources], AbstractAsyncContextManager[None]] | None = None,
    readiness_checks: Sequence[ReadinessCheck] = (),
    sqlite_write_lock_at_begin: bool = False,
) -> Starlette:
    """A Starlette app with the shared middleware, error handlers, health routes and lifespan.

    The lifespan starts the broker when the app owns it, and keeps the token codec's set of
    signed-out sessions current (loaded from the sessions table, then from broker events).
    """
    # Resolve the secret now: a bad configuration refuses to start before binding a port.
    tokens = token_codec(settings, embedded=embedded)
    metrics = metrics_for(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(settings, sqlite_write_lock_at_begin=sqlite_write_lock_at_begin)
        if metrics is not None:
            metrics.watch_pool("main", engine)
        try:
            if settings.is_sqlite:
                await create_schema(engine)
            res = ServiceResources(settings, engine, create_sessionmaker(engine), tokens)
            app.state.res = res
            async with AsyncExitStack() as stack:
                if owns_broker:
                    await broker.start()
                    stack.push_async_callback(broker.close)
                load = revoked_sessions_loader(res.sessions)
                await stack.enter_async_context(revocations_followed(broker, tokens.revoked, load))
                if extra_lifespan is not None:
                    await stack.enter_async_context(extra_lifespan(res))
                if not embedded:  # embedded: assembly serves every app's metrics on one port
                    stack.enter_context(serve_metrics(metrics, settings))
                yield
        finally:
            await engine.dispose()

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            async with resources(request).engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            for check in readiness_checks:
                await check()
        except Exception as error:  # readiness reports any dependency failure as 503
            return JSONResponse(
                {"status": "unavailable", "error": type(error).__name__}, status_code=503
            )
        return JSONResponse({"status": "ready"})

    all_routes: list[BaseRoute] = [
        *routes,
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    handlers: Any = EXCEPTION_HANDLERS
    app = Starlette(
        routes=all_routes,
        middleware=[
            Middleware(AccessLogMiddleware),
            Middleware(MetricsMiddleware, metrics),
            Middleware(BodyLimitMiddleware),
        ],
        exception_handlers=handlers,
        lifespan=lifespan,
    )
    app.state.metrics = metrics  # None unless MYCHAT_METRICS_PORT is set
    return app
