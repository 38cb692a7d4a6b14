"""The gateway's Starlette app, with a short path for GraphQL WebSockets.

A WebSocket handler runs for the life of its connection, and every ASGI layer it passes
through stays suspended in memory as long: Starlette's error and exception middleware, the
body limit, the router and the route (~2-3 KB per connection, for layers that do nothing for a
WebSocket: error pages, 413s and exception handlers answer HTTP requests; uvicorn closes a
socket whose handler fails with 1011 either way). So a WebSocket to the GraphQL path goes
straight to the view, with what the access log and metrics middleware do for a socket (request
id and log line, as for every request; the open WebSockets gauge) done in this app's own frame:
as middleware, each was one more frame held per connection.
Everything else, HTTP on the same path included, takes the full Starlette stack.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Match, WebSocketRoute
from starlette.types import Receive, Scope, Send

from gateway.view import GatewayGraphQL
from mychat.http import AccessLogged
from mychat.metrics import Metrics


class GatewayApp(Starlette):
    def __init__(
        self,
        *,
        graphql_path: str,
        graphql_view: GatewayGraphQL,
        metrics: Metrics | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._graphql_view = graphql_view
        # Counts a socket in and out; stateless, so one serves every socket.
        self._open_sockets: AbstractContextManager[object] = (
            nullcontext() if metrics is None else metrics.websockets.track_inprogress()
        )
        # Matched as the router would (a mount's root_path taken off), never called: the socket
        # goes to the view, without the route's own layers.
        self._graphql_route = WebSocketRoute(graphql_path, graphql_view.serve_websocket)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A coroutine function, not a plain one returning the coroutine (one frame less): uvicorn
        # would take a plain __call__ for an ASGI 2 app.
        if scope["type"] == "websocket" and self._graphql_route.matches(scope)[0] is Match.FULL:
            scope["app"] = self  # as Starlette does: the view finds the resources through it
            view = self._graphql_view
            with AccessLogged(scope), self._open_sockets:
                try:
                    await view.serve_websocket(scope, receive, send)
                finally:
                    view.socket_closed(scope)
            return
        await super().__call__(scope, receive, send)
