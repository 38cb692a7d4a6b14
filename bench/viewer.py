"""A benchmark viewer behaving as the web app's open chat: it marks the chat read.

`MarkReader` is web/src/views/chatView.js's `markRead` in Python: on every new message, at
most one `markRead` mutation every 2 s (the first at once, then the newest when due plus a
random part of a second, so that viewers' marks spread out and stay so), never twice for the
same message, with the web app's own MARK_READ document. It remembers the highest
message it has marked and that the server acknowledged.

As the web app (web/src/apollo.js), it sends its marks over the viewer's own open
graphql-transport-ws socket (`SocketMutations`: one operation each, answered by `next` and
ended by `complete`), not as HTTP requests.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

MARK_READ_EVERY_SECONDS = 2.0  # MARK_READ_EVERY_MS in chatView.js
MARK_READ_SPREAD_SECONDS = 1.0  # MARK_READ_SPREAD_MS
# How long one mark may take before it counts as failed.
MARK_TIMEOUT_SECONDS = 60.0
# Operation ids of the viewer's own mutations (its subscription is "1").
MUTATION_ID_PREFIX = "m"


class SocketMutations:
    """Mutations over a graphql-transport-ws socket whose frames another task receives: that
    task hands each frame of a mutation's operation to `offer`."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._answers: dict[str, asyncio.Future[Any]] = {}
        self._sent = 0

    async def mutate(self, body: dict[str, Any]) -> Any:
        """The `next` payload of one operation (TimeoutError, ConnectionClosed)."""
        self._sent += 1
        op = f"{MUTATION_ID_PREFIX}{self._sent}"
        answer = asyncio.get_running_loop().create_future()
        self._answers[op] = answer
        frame = {"id": op, "type": "subscribe", "payload": body}
        try:
            await self._socket.send(orjson.dumps(frame).decode())
            return await asyncio.wait_for(answer, MARK_TIMEOUT_SECONDS)
        finally:
            self._answers.pop(op, None)

    def offer(self, message: dict[str, Any]) -> bool:
        """Whether the frame belongs to one of our mutations (taken: answers its wait)."""
        op = message.get("id")
        if not isinstance(op, str) or not op.startswith(MUTATION_ID_PREFIX):
            return False
        answer = self._answers.get(op)
        if answer is not None and not answer.done():
            if message.get("type") == "next":
                answer.set_result(message.get("payload"))
            elif message.get("type") == "error":
                answer.set_exception(RuntimeError(str(message)[:300]))
        return True  # `complete`, or a late frame of a mutation given up on


@dataclass
class MarkSpec:
    """What viewers send to mark read."""

    document: str
    chat_id: str
    every_seconds: float = MARK_READ_EVERY_SECONDS
    spread_seconds: float = MARK_READ_SPREAD_SECONDS


@dataclass
class MarkState:
    marks: int = 0
    failures: int = 0
    # databaseId of the newest message a markRead was acknowledged for (0: none).
    acknowledged: int = 0
    # databaseIds of marks whose answer never came (timed out, connection lost): the server
    # may have applied them, so the viewer's count may follow any of them.
    unanswered: list[int] = field(default_factory=list)
    first_error: str | None = None


@dataclass
class MarkReader:
    mutations: SocketMutations
    spec: MarkSpec
    state: MarkState = field(default_factory=MarkState)
    newest: tuple[str, int] | None = None  # (Message id, databaseId) of the newest message
    last_mark_at: float | None = None  # monotonic time of the last mark sent
    last_marked: str | None = None
    timer: asyncio.TimerHandle | None = None
    stopped: bool = False
    in_flight: set[asyncio.Task[None]] = field(default_factory=set)
    # A random part of the spread (random.random: [0, 1)); tests make it fixed.
    spread_part: Callable[[], float] = random.random

    def message(self, message_id: str, database_id: int) -> None:
        if self.newest is None or database_id > self.newest[1]:
            self.newest = (message_id, database_id)
        self.mark()

    def mark(self) -> None:
        if self.timer is not None or self._unmarked() is None:
            return
        wait = 0.0
        if self.last_mark_at is not None:  # due, plus a random part of the spread (chatView.js)
            due = self.last_mark_at + self.spec.every_seconds - time.monotonic()
            wait = max(due, 0.0) + self.spread_part() * self.spec.spread_seconds
        if wait <= 0:
            self._send_newest()
            return
        self.timer = asyncio.get_running_loop().call_later(wait, self._due)

    def _unmarked(self) -> tuple[str, int] | None:
        newest = self.newest
        if self.stopped or newest is None or newest[0] == self.last_marked:
            return None
        return newest

    def _due(self) -> None:
        self.timer = None
        self._send_newest()

    def _send_newest(self) -> None:
        newest = self._unmarked()
        if newest is None:
            return
        self.last_mark_at = time.monotonic()
        self.last_marked = newest[0]
        task = asyncio.ensure_future(self._send(*newest))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _send(self, message_id: str, database_id: int) -> None:
        body = {
            "query": self.spec.document,
            "variables": {"chatId": self.spec.chat_id, "messageId": message_id},
        }
        try:
            payload: Any = await self.mutations.mutate(body)
            if payload["data"]["markRead"]["__typename"] != "MarkReadPayload":
                raise RuntimeError(str(payload)[:300])
        except (ConnectionClosed, TimeoutError, RuntimeError, KeyError, TypeError) as error:
            self.state.failures += 1
            self.state.first_error = self.state.first_error or f"{type(error).__name__}: {error}"
            if isinstance(error, ConnectionClosed | TimeoutError):
                self.state.unanswered.append(database_id)
            self.last_marked = None  # as the web app: try again with the next change
            return
        self.state.marks += 1
        self.state.acknowledged = max(self.state.acknowledged, database_id)

    async def stop(self) -> None:
        """Mark no more; wait for the marks in flight."""
        self.stopped = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.in_flight:
            await asyncio.gather(*self.in_flight, return_exceptions=True)
