"""Strawberry's ASGI view with MyChat's auth, limits and GraphQL-over-HTTP behaviour."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from gateway.context import Context, GatewayResources
from gateway.limits import CLOSE_TOO_MANY, LimitExceeded, SocketSlot
from gateway.websocket import (
    LegacyGraphQLWSHandler,
    SharedDocuments,
    SizeLimitedWebSocketAdapter,
    TransportWSHandler,
)
from mychat.pages import GRAPHIQL_SECURITY_HEADERS, NO_CACHE
from mychat.tokens import bearer_token

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
# A socket must send connection_init within this. Not less: a gateway loaded by thousands of
# sockets opening at once (a reconnect storm after a restart) handles frames late, and at 3 s
# it closed clients that had sent theirs in time (242 of 10,000 in bench events_large), who
# then reconnected into the same storm.
CONNECTION_INIT_WAIT = timedelta(seconds=10)
MAX_SUBSCRIPTIONS_PER_CONNECTION = 20
LEGACY_KEEP_ALIVE_SECONDS = 15.0
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")  # developers' pages on any port
REQUEST_ERROR_FLAG = "mychat.graphql_request_error"
SOCKET_SLOT = "mychat.socket_slot"
CONTEXT_KEY = "mychat.graphql_context"

GRAPHIQL_NOT_BUILT = "GraphiQL not built: run `make install` (it builds web/dist)\n"


def _is_request_error(result: ExecutionResult) -> bool:
    """Parse or validation failure: no data and no error tied to a field (a path)."""
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or ())
    )


def _wants_graphql_response(request: Request) -> bool:
    return GRAPHQL_RESPONSE_JSON in request.headers.get("accept", "")


class GatewayGraphQL(GraphQL[Context, None]):
    websocket_adapter_class = SizeLimitedWebSocketAdapter
    graphql_ws_handler_class = LegacyGraphQLWSHandler
    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(
        self, schema: BaseSchema, allowed_origins: tuple[str, ...], graphiql_page: Path
    ) -> None:
        # The page Vite builds from web/graphiql.html; its scripts load from /assets/.
        self.graphiql_page = graphiql_page
        self.shared_documents = SharedDocuments()
        super().__init__(
            schema,
            graphql_ide="graphiql",
            allow_queries_via_get=True,
            # Legacy graphql-ws clients expect "ka" messages; they also keep proxies from
            # timing out idle sockets (graphql-transport-ws clients ping by themselves).
            keep_alive=True,
            keep_alive_interval=LEGACY_KEEP_ALIVE_SECONDS,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            connection_init_wait_timeout=CONNECTION_INIT_WAIT,
            max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_CONNECTION,
            allowed_origins=allowed_origins,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as error:
            response = self._error_response(request, error)
        else:
            if _wants_graphql_response(request) and response.media_type == "application/json":
                response.headers["content-type"] = GRAPHQL_RESPONSE_JSON
                if request.scope.get(REQUEST_ERROR_FLAG):
                    response.status_code = 400
        await response(scope, receive, send)

    def serve_websocket(
        self, scope: Scope, receive: Receive, send: Send
    ) -> Coroutine[Any, Any, object]:
        """What GraphQL.__call__ does for a WebSocket, as the coroutine of the socket's handler
        itself: no frames of ours held for the life of the connection (see gateway/asgi.py).
        The caller calls `socket_closed` once it has run (one frame less than a wrapper)."""
        websocket = WebSocket(scope, receive=receive, send=send)
        resources: GatewayResources = scope["app"].state.gateway
        client = scope.get("client")
        try:
            slot = resources.limits.open_socket(client[0] if client else "-")
        except LimitExceeded as error:
            return _refuse_socket(websocket, error)
        scope[SOCKET_SLOT] = slot
        return self.run(websocket)

    def socket_closed(self, scope: Scope) -> None:
        """After serve_websocket's coroutine: its socket slot is free, and an authenticated
        connection no longer counts as open (sessions, presence)."""
        slot = scope.pop(SOCKET_SLOT, None)
        if isinstance(slot, SocketSlot):
            slot.release()
        context = scope.pop(CONTEXT_KEY, None)
        if isinstance(context, Context):
            context.connection_closed()

    def _error_response(self, request: Request, error: HTTPException) -> Response:
        media_type = (
            GRAPHQL_RESPONSE_JSON if _wants_graphql_response(request) else "application/json"
        )
        headers = {"allow": "POST"} if error.status_code == 405 else None
        body = orjson.dumps({"errors": [{"message": error.reason}]})
        return Response(body, status_code=error.status_code, media_type=media_type, headers=headers)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as error:
            # GraphQL-over-HTTP: a mutation over GET is "method not allowed", not a bad request.
            if isinstance(error.__cause__, InvalidOperationTypeError) and (
                request_adapter.method == "GET"
            ):
                raise HTTPException(405, "Mutations need POST") from error
            raise

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = process_result(result)
        if _wants_graphql_response(request) and _is_request_error(result):
            request.scope[REQUEST_ERROR_FLAG] = True
            response.pop("data", None)
        return response

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        resources: GatewayResources = request.scope["app"].state.gateway
        client_host = request.client.host if request.client else None
        context = Context(
            resources,
            request.scope.get("mychat.request_id", "-"),
            client_host,
            request.headers.get("user-agent"),
        )
        if isinstance(request, Request):
            context.authenticate(bearer_token(request.headers.get("authorization")))
        else:
            context.over_http = False
            context.socket_slot = request.scope.get(SOCKET_SLOT)
            context.websocket = request
            context.connection_serial = next(resources.connection_serials)
            request.scope[CONTEXT_KEY] = context
            # Read above, once: a socket need not keep its handshake's headers for its life
            # (~1.4 KB, more with a browser's cookies). In place: copies of the scope share them.
            headers = request.scope.get("headers")
            if isinstance(headers, list):
                headers.clear()
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        raw = params.get("authorization") or params.get("Authorization") or params.get("token")
        token = bearer_token(raw) if isinstance(raw, str) else None
        # Read once, here: the connection need not keep the payload (the token stays).
        context.connection_params = None
        if not context.authenticate(token) or context.claims is None:
            raise ConnectionRejectionError({"message": "Missing or invalid token"})
        if context.socket_slot is not None:
            try:
                context.socket_slot.authenticate(context.claims.user_id)
            except LimitExceeded as error:
                # Our own close code (the protocol handlers only know 4403 for a refusal);
                # their close after ours is a no-op (SizeLimitedWebSocketAdapter.close).
                if context.websocket is not None:
                    await context.websocket.close(CLOSE_TOO_MANY, error.message)
                raise ConnectionRejectionError({"message": error.message}) from error
        context.connection_opened()
        acknowledged: UnsetType = UNSET  # a plain connection_ack
        return acknowledged

    def is_websocket_origin_allowed(self, request: WebSocket, origin: str) -> bool:
        try:
            hostname = urlsplit(origin).hostname
        except ValueError:
            return False
        return hostname in LOCAL_HOSTS or super().is_websocket_origin_allowed(request, origin)

    def encode_json(self, data: object) -> str:
        # str, not bytes: Strawberry sends bytes as binary WebSocket frames, and the
        # graphql-ws protocols (and browsers' clients) need text frames.
        return orjson.dumps(data).decode()

    def parse_json(self, data: str | bytes) -> dict[str, object] | list[object]:
        """An HTTP body (or GET `variables`): JSON with an object (or a batch list) at the top;
        `null`, `1`, `"s"` or `true` is the client's mistake (400), not a crash."""
        decoded = self.decode_json(data)
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        return decoded

    def decode_json(self, data: str | bytes) -> object:
        # orjson.JSONDecodeError subclasses json.JSONDecodeError, which Strawberry catches.
        decoded: object = orjson.loads(data)
        return decoded

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL bundled by the web app's build (no CDN), under the app pages' headers (but
        inline styles, which its editor needs)."""
        headers = {**GRAPHIQL_SECURITY_HEADERS, "cache-control": NO_CACHE}
        if not self.graphiql_page.is_file():
            return PlainTextResponse(GRAPHIQL_NOT_BUILT, status_code=503, headers=headers)
        return FileResponse(self.graphiql_page, media_type="text/html", headers=headers)


async def _refuse_socket(websocket: WebSocket, error: LimitExceeded) -> None:
    """Accept (with a protocol the client offered) only to close with 4429 and the reason: a
    refusal before accepting would reach the client as a bare HTTP 403."""
    offered = websocket.scope.get("subprotocols") or []
    known = [p for p in offered if p in (GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL)]
    await websocket.accept(subprotocol=known[0] if known else None)
    await websocket.close(CLOSE_TOO_MANY, error.message)


__all__ = ["GRAPHQL_RESPONSE_JSON", "GatewayGraphQL"]
