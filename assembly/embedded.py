"""Embedded mode: auth, chat, the gateway and the web app in one process on one port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from mychat.broker import MemoryBroker
from mychat.metrics import merged_registry, serve_registry
from mychat.settings import Settings


class PrefixDispatcher:
    """Routes each request to the app owning the longest matching path prefix."""

    def __init__(self, routes: list[tuple[str, ASGIApp]], fallback: ASGIApp) -> None:
        self._routes = sorted(routes, key=lambda route: len(route[0]), reverse=True)
        self._fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        for prefix, app in self._routes:
            if path == prefix or path.startswith(prefix + "/"):
                await app(scope, receive, send)
                return
        await self._fallback(scope, receive, send)


def create_embedded_app(settings: Settings) -> Starlette:
    # Imported here so that `mychat serve auth` does not load the gateway and its schema.
    from assembly.web import create_web_app
    from auth_service.app import create_app as create_auth_app
    from chat_service.app import create_app as create_chat_app
    from gateway.app import create_app as create_gateway_app

    broker = MemoryBroker()
    auth_app = create_auth_app(settings, embedded=True, broker=broker)
    chat_app = create_chat_app(settings, broker=broker, embedded=True)
    gateway_app = create_gateway_app(settings, auth_app=auth_app, chat_app=chat_app, broker=broker)
    web_app = create_web_app(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Starlette does not run lifespans of mounted apps: enter each one here, in order.
        async with AsyncExitStack() as stack:
            await broker.start()
            stack.push_async_callback(broker.close)
            for sub_app in (auth_app, chat_app, gateway_app):
                await stack.enter_async_context(sub_app.router.lifespan_context(sub_app))
            apps = {"auth": auth_app, "chat": chat_app, "gateway": gateway_app}
            measured = {name: a.state.metrics for name, a in apps.items() if a.state.metrics}
            stack.enter_context(
                serve_registry(merged_registry(measured) if measured else None, settings)
            )
            yield

    dispatcher = PrefixDispatcher(
        [
            ("/mychat/api/auth", auth_app),
            ("/mychat/api/openapi.json", auth_app),
            ("/mychat/api/chat", chat_app),
            ("/mychat/graphql", gateway_app),
            ("/healthz", chat_app),
            ("/readyz", chat_app),
        ],
        fallback=web_app,
    )
    app = Starlette(lifespan=lifespan)
    app.mount("/", dispatcher)
    return app
