"""markRead calls to chat_service, gathered: one call carries the marks made meanwhile.

An open chat marks itself read at most every 2 s per viewer, so a thousand viewers of a busy
chat make 500 marks a second, and the marks of everyone who saw a message come together. One
service call each cost both processes an HTTP request, and a wave of them took every
connection chat_service had. Here a mark goes out at once when no call is out; marks made
while one is out wait for it and then go together, up to `MARKS_PER_CALL` a call
(chat_service/read_marker_route.py). So the calls adapt to the load: one mark per call when
it is quiet, batches under load, never more than one call out per gateway.

Each mark carries its caller's token (chat_service verifies it as every call's) and gets the
answer its own call would have had: the chat, or its ServiceError.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, cast

from gateway.clients import (
    ChatData,
    InFlight,
    ServiceClient,
    ServiceError,
    ServiceUnavailable,
    service_error,
)
from gateway.transport import ServiceTransport

MARKS_PER_CALL = 100  # chat_service's MARKS_PER_CALL_MAX


@dataclass(frozen=True)
class _Mark:
    token: str
    chat_id: int
    message_id: int
    origin: str | None
    answer: asyncio.Future[ChatData]


class ReadMarks:
    """One per gateway process (GatewayResources)."""

    def __init__(self, transport: ServiceTransport, in_flight: InFlight) -> None:
        self._client = ServiceClient(transport, None, in_flight)
        self._waiting: list[_Mark] = []
        self._sending: asyncio.Task[None] | None = None

    async def mark(
        self, token: str, chat_id: int, message_id: int, origin: str | None = None
    ) -> ChatData:
        """The chat with the unread count the new marker leaves (ServiceError as a call's).
        `origin`: the WebSocket connection that marked (Context.origin), if one did."""
        answer: asyncio.Future[ChatData] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Mark(token, chat_id, message_id, origin, answer))
        if self._sending is None:
            self._sending = asyncio.create_task(self._send_waiting(), name="read-marks")
        # A caller that gives up cancels its own answer only: the call goes on for the others.
        return await answer

    async def _send_waiting(self) -> None:
        try:
            while self._waiting:
                marks = self._waiting[:MARKS_PER_CALL]
                del self._waiting[:MARKS_PER_CALL]
                await self._send(marks)
        finally:
            self._sending = None

    async def _send(self, marks: list[_Mark]) -> None:
        body = {"marks": [_asked(mark) for mark in marks]}
        try:
            reply = await self._client.call("POST", "/internal/read-markers", json=body)
            results = reply.get("results")
            if not isinstance(results, list) or len(results) != len(marks):
                raise ServiceUnavailable("POST /internal/read-markers: not one result per mark")
        except (ServiceError, ServiceUnavailable) as error:
            for mark in marks:
                _settle(mark.answer, error=error)
            return
        except BaseException as error:  # cancelled with the app: nobody is left waiting
            for mark in marks:
                _settle(mark.answer, error=ServiceUnavailable(repr(error)))
            raise
        for mark, result in zip(marks, results, strict=True):
            _settle(mark.answer, result=result)


def _asked(mark: _Mark) -> dict[str, object]:
    asked: dict[str, object] = {
        "token": mark.token,
        "chat_id": mark.chat_id,
        "message_id": mark.message_id,
    }
    if mark.origin is not None:
        asked["origin"] = mark.origin
    return asked


def _settle(
    answer: asyncio.Future[ChatData], *, result: Any = None, error: Exception | None = None
) -> None:
    if answer.done():  # its caller was cancelled
        return
    if error is not None:
        answer.set_exception(error)
    elif isinstance(result, dict) and "status" in result:
        status = result["status"]
        answer.set_exception(service_error(status if isinstance(status, int) else 400, result))
    elif isinstance(result, dict) and isinstance(result.get("chat"), dict):
        answer.set_result(cast(ChatData, result["chat"]))
    else:
        answer.set_exception(ServiceUnavailable("a read marker's result without its chat"))
