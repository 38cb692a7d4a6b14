"""WebSocket details Strawberry leaves open: message size, legacy protocol auth and init timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Container, Iterator, Mapping
from contextlib import contextmanager, suppress
from json import JSONDecodeError
from typing import Any, Protocol, cast

from graphql import GraphQLError, GraphQLSyntaxError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.async_base_view import AsyncBaseHTTPView
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    CompleteMessage,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage as TransportInitMessage,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    Message as TransportMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage,
    OperationMessage,
    StartMessage,
    StopMessage,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.types.unset import UnsetType

from gateway.connections import CLOSE_FORBIDDEN
from gateway.context import Context
from gateway.direct_frames import OPERATION, FrameTarget

MAX_MESSAGE_BYTES = 64 * 1024
NO_INCREMENTAL_DELIVERY = "Incremental delivery is not supported over graphql-transport-ws"
# Distinct subscription documents kept as one shared copy each (SharedDocuments).
KNOWN_DOCUMENTS = 64
CLOSE_TOO_BIG = 1009
CLOSE_INIT_TIMEOUT = 4408
CLOSE_BAD_MESSAGE = 4400
# Message types of the legacy protocol, and what each must carry besides its type.
_LEGACY_NEEDS_ID = frozenset({"start", "stop"})


class SharedDocuments:
    """One string per distinct document text, for the documents that sockets subscribe with.

    Strawberry keeps each operation's query text for the life of the subscription; thousands of
    web apps send the same few documents (KiBs each), so they share one copy. Bounded: a client
    sending ever new documents only churns the oldest out.
    """

    def __init__(self, size: int = KNOWN_DOCUMENTS) -> None:
        self._size = size
        self._known: dict[str, str] = {}

    def shared_query(self, message: object) -> object:
        """The message, its `payload.query` (both protocols put it there) replaced by the
        shared copy of the same text."""
        if not isinstance(message, dict):
            return message
        payload = message.get("payload")
        if not isinstance(payload, dict):
            return message
        query = payload.get("query")
        if not isinstance(query, str):
            return message
        known = self._known.get(query)
        if known is None:
            if len(self._known) >= self._size:
                del self._known[next(iter(self._known))]
            known = self._known[query] = query
        payload["query"] = known
        return message


class DocumentSharingView(Protocol):
    shared_documents: SharedDocuments


class SizeLimitedWebSocketAdapter(ASGIWebSocketAdapter):
    """Closes the socket (1009) on a message over 64 KiB, also when uvicorn would let it in."""

    def __init__(
        self,
        view: AsyncBaseHTTPView[Any, Any, Any, Any, Any, Any, Any],
        request: WebSocket,
        response: WebSocket,
    ) -> None:
        super().__init__(view, request, response)
        # GatewayGraphQL, the only view using this adapter, has one for all its sockets.
        self._documents = cast(DocumentSharingView, view).shared_documents

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        ws = self.ws
        try:
            while ws.application_state != WebSocketState.DISCONNECTED:
                try:
                    text = await ws.receive_text()
                except WebSocketDisconnect:
                    return
                if len(text) > MAX_MESSAGE_BYTES or len(text.encode()) > MAX_MESSAGE_BYTES:
                    await ws.close(code=CLOSE_TOO_BIG, reason="Message over 64 KiB")
                    return
                try:
                    message = self.view.decode_json(text)
                except (JSONDecodeError, ValueError) as error:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from error
                    continue
                # An idle socket waits in receive_text for its next message: it need not keep
                # the last one (a subscribe's is KiBs), nor a copy of every subscriber's document.
                del text
                yield self._documents.shared_query(message)
                # Handled: the handler asks for the next one. Its loop variable still holds
                # this message until that arrives, so it is emptied (what the handler kept of
                # it, an operation's id and variables, are objects of their own).
                if isinstance(message, dict):
                    message.clear()
                del message
        except KeyError as error:
            raise NonTextMessageReceived from error

    async def send_json(self, message: Mapping[str, object]) -> None:
        # Nothing to send on a socket we closed already (e.g. with 4429 during connection_init).
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            return
        try:
            await super().send_json(message)
        except WebSocketDisconnected:
            # The client went away (the send met a closed connection): the receive loop sees
            # the disconnect and ends its operations. Raised, it would end the operation's task
            # through Strawberry's handler, which logs a full traceback for each such send.
            return

    async def send_text(self, text: str) -> None:
        """A frame already encoded (gateway/direct_frames.py), with send_json's care."""
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            return
        # As send_json: a client gone is the receive loop's to notice.
        with suppress(WebSocketDisconnect, WebSocketDisconnected):
            await self.ws.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            await super().close(code, reason)


class FrameTargets:
    """The frame targets of a connection's operations (gateway/direct_frames.py), by id."""

    def __init__(self, websocket: object, *, legacy: bool) -> None:
        self.websocket = websocket
        self.legacy = legacy
        self.by_id: dict[object, FrameTarget] = {}

    @contextmanager
    def opening(self, operation_id: object, running: Container[object]) -> Iterator[None]:
        """Around the handler's start of an operation: its task gets a target (OPERATION).
        Targets of operations no longer `running` are forgotten."""
        self.by_id = {key: t for key, t in self.by_id.items() if key in running}
        self.close(operation_id)  # a legacy `start` with an id in use replaces that operation
        adapter = self.websocket
        if not isinstance(adapter, SizeLimitedWebSocketAdapter):
            yield
            return
        target = self.by_id[operation_id] = FrameTarget(
            adapter.send_text, operation_id, legacy=self.legacy
        )
        token = OPERATION.set(target)
        try:
            yield
        finally:
            OPERATION.reset(token)

    def close(self, operation_id: object) -> None:
        target = self.by_id.pop(operation_id, None)
        if target is not None:
            target.closed = True

    def close_all(self) -> None:
        for operation_id in list(self.by_id):
            self.close(operation_id)


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler, closing with 4400 on a frame that is not a
    JSON object with a string `type` (it would fail in the handler: a dropped socket), and
    giving each operation a frame target (gateway/direct_frames.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.targets = FrameTargets(self.websocket, legacy=False)

    async def handle_message(self, message: TransportMessage) -> None:
        payload: object = message
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            await self.handle_invalid_message("Invalid message")
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: TransportInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_init_received:
            # Strawberry cancelled its init timer, but would keep the task (and with it the
            # CancelledError's traceback and the sleep's frames, ~1 KB) for the connection's
            # life; cancelled, it finishes on its own.
            self.connection_init_timeout_task = None

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        with self.targets.opening(message["id"], self.operations):
            await super().handle_subscribe(message)

    async def handle_complete(self, message: CompleteMessage) -> None:
        self.targets.close(message["id"])
        await super().handle_complete(message)

    async def shutdown(self) -> None:
        self.targets.close_all()
        await super().shutdown()

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        """Strawberry's, in one frame: its helper coroutine for the results and its `aclosing`
        generator stayed suspended beside it for a subscription's life (~1 KiB per idle
        subscription). The same messages: a pre-execution error closes 4400 (a syntax error,
        no operation to run) or is the operation's `error`; each result a `next`; then
        `complete` unless the operation was completed or ended already."""
        try:
            results = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=self.context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )
            try:
                first = True
                async for result in results:
                    if first and isinstance(result, PreExecutionError):
                        reason = _close_reason(result.errors or [])
                        if reason is not None:
                            await self.websocket.close(CLOSE_BAD_MESSAGE, reason)
                            self.operations.pop(operation.id, None)
                            return
                        await operation.send_initial_errors(result.errors or [])
                        break
                    if not isinstance(result, ExecutionResult):  # @defer/@stream frames
                        await operation.send_initial_errors([GraphQLError(NO_INCREMENTAL_DELIVERY)])
                        break
                    await operation.send_next(result)
                    first = False
            finally:
                await results.aclose()
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except Exception as error:
            await self.handle_task_exception(error)
            with suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise


class LegacyGraphQLWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The `graphql-ws` (subscriptions-transport-ws) protocol, closing 4403 on a bad token and
    4408 when no connection_init arrives in time, like graphql-transport-ws."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.targets = FrameTargets(self.websocket, legacy=True)
        # Closes the socket unless connection_init is acknowledged in time; gone once it is.
        self.init_timeout: asyncio.Task[None] | None = None

    async def handle(self) -> None:
        self.init_timeout = asyncio.create_task(self._close_unless_initialised())
        try:
            await super().handle()
        finally:
            self.targets.close_all()
            timeout, self.init_timeout = self.init_timeout, None
            if timeout is not None:
                timeout.cancel()
                with suppress(asyncio.CancelledError):
                    await timeout

    async def handle_start(self, message: StartMessage) -> None:
        with self.targets.opening(message["id"], self.tasks):
            await super().handle_start(message)

    async def handle_stop(self, message: StopMessage) -> None:
        self.targets.close(message["id"])
        await super().handle_stop(message)

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self.connection_acknowledged:
            await self.websocket.close(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout")

    async def handle_message(self, message: OperationMessage) -> None:
        """Strawberry's, after a shape check: a frame that is not an object with a string
        `type` (and, for start/stop, a string `id`; for start, a `payload` with a string
        `query`) closes the socket with 4400 instead of failing in the handler (1006)."""
        if not _well_formed(message):
            await self.websocket.close(CLOSE_BAD_MESSAGE, "Invalid message")
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload: Any = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            await self.websocket.close(CLOSE_FORBIDDEN, "Invalid connection init payload")
            return
        self.context.connection_params = payload
        try:
            ack_payload = await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as error:
            await self.send_message({"type": "connection_error", "payload": error.payload})
            await self.websocket.close(CLOSE_FORBIDDEN, "Forbidden")
            return
        if isinstance(ack_payload, UnsetType) or ack_payload is None:
            await self.send_message({"type": "connection_ack"})
        else:
            await self.send_message({"type": "connection_ack", "payload": ack_payload})
        self.connection_acknowledged = True
        # Its 10 s sleep need not outlive the handshake (cancelled, it finishes on its own).
        if self.init_timeout is not None:
            self.init_timeout.cancel()
            self.init_timeout = None


def _close_reason(errors: list[GraphQLError]) -> str | None:
    """Why a pre-execution error closes a graphql-transport-ws socket (4400), as Strawberry's
    handler decides: a document that does not parse, or no operation to run in it."""
    if not errors:
        return None
    error = errors[0]
    if isinstance(error, GraphQLSyntaxError):
        return error.message
    if isinstance(error.original_error, CannotGetOperationTypeError):
        return error.original_error.as_http_error_reason()
    return None


def _well_formed(message: object) -> bool:
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return False
    kind = message["type"]
    if kind in _LEGACY_NEEDS_ID and not isinstance(message.get("id"), str):
        return False
    if kind == "start":
        payload = message.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return False
        variables = payload.get("variables")
        return variables is None or isinstance(variables, dict)
    return True
