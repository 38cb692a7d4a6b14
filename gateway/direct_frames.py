"""A subscription's result frames written straight to its socket, outside Strawberry's stream.

Strawberry's protocol handlers send each result of a subscription from the operation's own
task, through a chain of async generators per subscriber (the resolver's stream, the
subscription runner's loop with its per-event execution, the handler's loop, `send_json`):
for a live event that reaches a thousand viewers,
a thousand tasks woken and a thousand trips down that chain (bench/PROFILE.md). A
`FrameTarget` is where one operation's frames go (its socket, its id, its protocol's frame
shape), so a result already encoded as JSON can be written from where the event arrives
(gateway/direct_delivery.py).

The protocol handlers (gateway/websocket.py) make a target per `subscribe` (`start` in the
legacy protocol) and hand it to the operation's task through `OPERATION`: asyncio copies the
current context into a task when it is created, so the task Strawberry's handler creates for
the operation sees the target and nothing else does. A target is closed when the client ends
its operation (`complete`, `stop`) or the connection ends: nothing is written after that,
exactly as Strawberry stops sending when it cancels the operation's task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Generator
from contextvars import ContextVar
from typing import Any

import orjson

log = logging.getLogger(__name__)

SendText = Callable[[str], Coroutine[Any, Any, None]]


class FrameTarget:
    """Where one operation's frames go; see the module docstring."""

    __slots__ = ("_head", "_send_text", "_writing", "closed")

    def __init__(self, send_text: SendText, operation_id: object, *, legacy: bool) -> None:
        # What Strawberry's handlers send for a result without errors or extensions:
        # {"id", "type": "next", "payload": {"data"}} (graphql-transport-ws) or the same with
        # "type": "data" (graphql-ws).
        kind = "data" if legacy else "next"
        head = orjson.dumps({"id": operation_id, "type": kind})
        self._head = head[:-1] + b',"payload":{"data":'
        self._send_text = send_text
        self._writing: asyncio.Future[None] | None = None
        self.closed = False

    @property
    def busy(self) -> bool:
        """A frame is still being written (the socket made its writer wait)."""
        writing = self._writing
        return writing is not None and not writing.done()

    async def written(self) -> None:
        """Until the frame being written, if any, is written: what the operation's own task
        sends next must not overtake it."""
        writing = self._writing
        if writing is not None and not writing.done():
            await asyncio.shield(writing)

    def write(self, data: bytes) -> None:
        """Send a result frame whose `data` is this JSON, now as far as the socket takes it
        without waiting (the rest in a task: see `busy`)."""
        text = b"".join((self._head, data, b"}}")).decode()
        self._writing = start_now(self._send_text(text))


def start_now(coroutine: Coroutine[Any, Any, None]) -> asyncio.Future[None] | None:
    """Run the coroutine up to its first wait, here and now: None if it finished without
    waiting (a socket send that the transport took at once), else a task that finishes it.

    A task per send would cost a loop iteration per subscriber and event; a send that does
    not wait needs none. An error is logged, not raised: the caller is delivering one event
    to many subscribers.
    """
    try:
        waiting_on = coroutine.send(None)
    except StopIteration:
        return None
    except Exception:
        log.exception("writing a frame failed")
        return None
    return asyncio.ensure_future(_finish(coroutine, waiting_on))


async def _finish(coroutine: Coroutine[Any, Any, None], waiting_on: object) -> None:
    try:
        await _Resumed(coroutine, waiting_on)
    except Exception:
        log.exception("writing a frame failed")


class _Resumed:
    """Awaiting this goes on with a coroutine that was started elsewhere and is waiting on
    `waiting_on` (the future it yielded): the awaiting task waits on that future in its place,
    and sends (or throws) what the task gets back into the coroutine. The plain
    `__await__` protocol that `await` uses between coroutines."""

    __slots__ = ("coroutine", "waiting_on")

    def __init__(self, coroutine: Coroutine[Any, Any, None], waiting_on: object) -> None:
        self.coroutine = coroutine
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        coroutine, waiting_on = self.coroutine, self.waiting_on
        while True:
            try:
                received = yield waiting_on
            except BaseException as error:  # the awaiting task's cancellation, say
                try:
                    waiting_on = coroutine.throw(error)
                except StopIteration:
                    return
                continue
            try:
                waiting_on = coroutine.send(received)
            except StopIteration:
                return


OPERATION: ContextVar[FrameTarget | None] = ContextVar("mychat_frame_target", default=None)
