"""uvicorn's WebSocket protocol with less kept per idle connection.

uvicorn's protocol over websockets' sans-I/O implementation (what its `ws="auto"` picks) keeps
for a connection's whole life: the parsed handshake request and the response it answered with
(websockets `Headers`: ~4.9 KB with the bench client's nine headers, more with a browser's;
websockets' parser holds on to the request as well), an `asyncio.Queue` for the messages the
app has not received yet (four deques and an Event, ~3.3 KB) and an `asyncio.Event` for the
transport's flow control (~0.9 KB), both empty or set nearly always. `LeanWebSocketProtocol`
lets go of the handshake once the response is sent (uvicorn reads it no more; the request's
headers are emptied) and uses `ReceiveQueue` and `Flag`, which hold a future only while
someone waits and a deque only while messages wait. websockets' parser, a generator, keeps the
last frame it parsed as a local until the next one arrives (an idle subscription's last frame is
its subscribe message: KiBs) and, below it, the handshake parser's frame with the request:
between frames the parser is restarted, which lets go of both (`restart_parser`).

uvicorn.Config's `ws=` option takes the class (`mychat serve`, bench.serve and the tests'
servers pass it). It relies on public names only: the protocol's plain `request`, `response`,
`queue` and `writable` attributes, and the methods uvicorn calls on the last two
(`put_nowait`, `get`, `empty`; `set`, `clear`, `wait`). tests/mychat/test_ws_protocol.py checks
them on the pinned uvicorn (a new version that calls anything else fails there).
`restart_parser` uses websockets' public `Protocol.parse`, `parser` and `StreamReader.at_eof`
and Python's generator introspection (`gi_yieldfrom`, `gi_code`); the same tests fail if a
websockets upgrade leaves the parser unrestarted.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Generic, TypeVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import OPEN, Protocol
from websockets.streams import StreamReader

Item = TypeVar("Item")


class Waking:
    """A future for whoever waits, made when someone does (`sleep`) and resolved by `wake`.
    Waiters share it; one waiter's cancellation (which cancels the shared future) sends the
    others back to wait. No asyncio.shield: its extra future and callbacks would cost ~800
    bytes per idle connection, which always has a reader waiting."""

    __slots__ = ("_waiter",)

    def __init__(self) -> None:
        self._waiter: asyncio.Future[None] | None = None

    async def sleep(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise  # this waiter's own cancellation

    def wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class ReceiveQueue(Waking, Generic[Item]):
    """What uvicorn's protocol uses of an unbounded asyncio.Queue: `put_nowait`, `get`,
    `empty`. A deque only while items wait, a future only while a reader waits."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        super().__init__()
        self._items: deque[Item] | None = None

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Item) -> None:
        items = self._items
        if items is None:
            items = self._items = deque()
        items.append(item)
        self.wake()

    async def get(self) -> Item:
        while not self._items:
            await self.sleep()
        items = self._items
        item = items.popleft()
        if not items:
            self._items = None
        return item


class Flag(Waking):
    """What uvicorn's protocol uses of an asyncio.Event (`set`, `clear`, `is_set`, `wait`),
    with a future only while someone waits."""

    __slots__ = ("_value",)

    def __init__(self, value: bool = False) -> None:
        super().__init__()
        self._value = value

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        self._value = True
        self.wake()

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        while not self._value:
            await self.sleep()
        return True


# Between frames, websockets' frame parser waits in its loop's first step, with nothing half-read.
_FRAME_LOOP = Protocol.parse.__code__
_BETWEEN_FRAMES = StreamReader.at_eof.__code__


def restart_parser(connection: Protocol) -> bool:
    """Give an open connection a new frame parser when its parser is between frames, so the
    old one's locals (the last frame, the handshake request) go. True if it was restarted.

    Equivalent: the parser keeps its state in the connection (reader, sizes), and between
    frames its only step under way is `StreamReader.at_eof`, where the new one starts too."""
    if connection.state is not OPEN or connection.parser_exc is not None:
        return False
    outer: Any = None
    inner: Any = connection.parser
    while inner.gi_yieldfrom is not None:
        outer, inner = inner, inner.gi_yieldfrom
    if outer is None or outer.gi_code is not _FRAME_LOOP or inner.gi_code is not _BETWEEN_FRAMES:
        return False
    fresh = Protocol.parse(connection)
    next(fresh)  # up to the same wait for data
    connection.parser = fresh
    return True


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, lighter per connection (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Typed as asyncio's by uvicorn; these have every method it calls on them.
        queue: Any = ReceiveQueue()
        writable: Any = Flag(True)
        self.queue = queue
        self.writable = writable

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        restart_parser(self.conn)

    async def send(self, message: Any) -> None:
        await super().send(message)
        # The handshake is answered: uvicorn reads its request and response no more (the
        # app has the request's headers in its scope). websockets' parser keeps the request
        # until its first restart (a local of ServerProtocol.parse's generator), so its
        # headers are emptied now, not just let go.
        if self.handshake_complete and "response" in vars(self):
            self.request.headers.clear()
            del self.request, self.response


class LeanHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, freed as soon as its connection becomes a WebSocket.

    Its parser calls back into it (protocol -> parser -> protocol, a reference cycle), so once
    a connection was upgraded the protocol object and what it held (the handshake's scope and
    headers, its flow control, the parser) waited for the garbage collector, which a server
    tuned to collect the old generation rarely (mychat/gc_tuning.py) runs seconds or minutes
    later: sockets opened by the thousand left their handshakes behind. Letting go of the
    parser after the upgrade, as uvicorn does when a connection is lost, frees them at once.
    uvicorn.Config's `http=` option takes the class (`mychat serve` through
    mychat/serve_guard.py, bench.serve)."""

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        # uvicorn's own reset, as in connection_lost: the transport feeds the WebSocket
        # protocol from now on, and nothing reads this parser again.
        self.parser = None  # type: ignore[assignment]
