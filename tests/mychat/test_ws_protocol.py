"""mychat/ws_protocol.py: uvicorn's WebSocket protocol keeping less per connection.

On real sockets: messages both ways, a subprotocol, closes from either side, and the
handshake's request and response gone once it is answered. And the contract with uvicorn: the
methods its protocol calls on `queue` and `writable` (read from its source) are all ones the
lean replacements have, so an upgrade that calls another fails here, not in production.
"""

from __future__ import annotations

import ast
import asyncio
import gc
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from uvicorn.protocols.websockets import websockets_sansio_impl
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import OPEN, Protocol
from websockets.server import ServerProtocol

from mychat.ws_protocol import (
    Flag,
    LeanHttpProtocol,
    LeanWebSocketProtocol,
    ReceiveQueue,
    restart_parser,
)
from tests.support.ports import LOCALHOST, free_port

Served = tuple[str, uvicorn.Server]


async def echo(websocket: WebSocket) -> None:
    await websocket.accept(subprotocol="chat")
    try:
        while True:
            text = await websocket.receive_text()
            if text == "bye":
                await websocket.close(4000, "asked to")
                return
            await websocket.send_text(text.upper())
    except WebSocketDisconnect:
        return


@asynccontextmanager
async def echo_server() -> AsyncIterator[Served]:
    app = Starlette(routes=[WebSocketRoute("/ws", echo)])
    port = free_port()
    config = uvicorn.Config(
        app,
        host=LOCALHOST,
        port=port,
        log_level="warning",
        ws=LeanWebSocketProtocol,
        http=LeanHttpProtocol,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        yield f"ws://{LOCALHOST}:{port}/ws", server
    finally:
        server.should_exit = True
        await task


def protocols(server: uvicorn.Server) -> list[LeanWebSocketProtocol]:
    return [c for c in server.server_state.connections if isinstance(c, LeanWebSocketProtocol)]


async def test_the_http_protocol_of_an_upgraded_connection_is_freed_at_once() -> None:
    """With the collector off: uvicorn's httptools protocol and its parser refer to each other,
    so without LeanHttpProtocol's release each upgraded connection's would still be here."""
    gc.collect()
    gc.disable()
    try:
        async with (
            echo_server() as (url, _),
            websockets.connect(url, subprotocols=["chat"]) as client,  # type: ignore[list-item]
        ):
            await client.send("hello")
            assert await client.recv() == "HELLO"
            assert [p for p in gc.get_objects() if isinstance(p, LeanHttpProtocol)] == []
    finally:
        gc.enable()
        gc.collect()  # what the test left, before the next one counts objects


async def test_messages_both_ways_and_the_handshake_dropped() -> None:
    async with (
        echo_server() as (url, server),
        websockets.connect(
            url,
            subprotocols=["chat"],  # type: ignore[list-item]  # a Subprotocol str
            additional_headers={"X-Padding": "x" * 2000},
        ) as client,
    ):
        assert client.subprotocol == "chat"
        for text in ("one", "two", "three"):
            await client.send(text)
            assert await client.recv() == text.upper()
        (protocol,) = protocols(server)
        assert isinstance(protocol.queue, ReceiveQueue)
        assert isinstance(protocol.writable, Flag)
        assert "request" not in vars(protocol)
        assert "response" not in vars(protocol)
        # The handshake parser held the request: restarted between frames, nothing does.
        assert [r for r in gc.get_objects() if type(r) is Request] == [client.request]
        await client.send("bye")
        with pytest.raises(ConnectionClosed) as closed:
            await client.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4000


async def test_the_last_frame_is_let_go_between_frames() -> None:
    """An idle connection does not keep the last message it got (a subscribe's is KiBs)."""
    text = "x" * 50_000
    async with (
        echo_server() as (url, server),
        websockets.connect(url, subprotocols=["chat"]) as client,  # type: ignore[list-item]
    ):
        await client.send(text)
        assert await client.recv() == text.upper()
        (protocol,) = protocols(server)
        parser: Any = protocol.conn.parser  # a generator
        assert parser.gi_code is Protocol.parse.__code__  # restarted
        assert not [f for f in gc.get_objects() if type(f) is Frame and f.data == text.encode()]
        # Split frames (a header now, its payload later) are never cut short by a restart.
        await client.send(["par", "ts"])  # a fragmented message: three frames
        assert await client.recv() == "PARTS"
        await client.send("more")
        assert await client.recv() == "MORE"


def test_no_restart_in_the_middle_of_a_frame() -> None:
    reader_side = ServerProtocol(state=OPEN)
    masked = Frame(Opcode.TEXT, b"hello").serialize(mask=True)
    reader_side.receive_data(masked[:6])  # header and mask read: all there is, payload pending
    assert not reader_side.reader.buffer
    assert not restart_parser(reader_side)
    reader_side.receive_data(masked[6:])
    assert payloads(reader_side) == [b"hello"]
    assert restart_parser(reader_side)
    reader_side.receive_data(masked)
    assert payloads(reader_side) == [b"hello"]


def payloads(connection: ServerProtocol) -> list[bytes]:
    return [bytes(event.data) for event in connection.events_received() if isinstance(event, Frame)]


async def test_a_client_that_leaves_ends_the_handler() -> None:
    async with echo_server() as (url, server):
        async with websockets.connect(url, subprotocols=["chat"]) as client:  # type: ignore[list-item]
            await client.send("hi")
            assert await client.recv() == "HI"
        async with asyncio.timeout(5):
            while protocols(server):
                await asyncio.sleep(0.01)


async def test_receive_queue_in_order_and_waits() -> None:
    queue: ReceiveQueue[int] = ReceiveQueue()
    assert queue.empty()
    reader = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not reader.done()
    queue.put_nowait(1)
    queue.put_nowait(2)
    assert await reader == 1
    assert not queue.empty()
    assert await queue.get() == 2
    assert queue.empty()


async def test_receive_queue_reader_cancelled_leaves_the_other_waiting() -> None:
    queue: ReceiveQueue[str] = ReceiveQueue()
    first = asyncio.ensure_future(queue.get())
    second = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    assert first.cancelled()
    assert not second.done()
    queue.put_nowait("x")
    assert await asyncio.wait_for(second, 1) == "x"


async def test_flag() -> None:
    flag = Flag(True)
    assert flag.is_set()
    assert await flag.wait()
    flag.clear()
    waiting = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0)
    assert not waiting.done()
    flag.set()
    assert await asyncio.wait_for(waiting, 1)


def called_on(attribute: str) -> set[str]:
    """Methods uvicorn's protocol calls on `self.<attribute>`, read from its source."""
    tree = ast.parse(inspect.getsource(websockets_sansio_impl))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == attribute
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "self"
    }


def test_uvicorn_calls_only_what_the_replacements_have() -> None:
    assert called_on("queue")
    assert called_on("queue") <= set(dir(ReceiveQueue))
    assert called_on("writable")
    assert called_on("writable") <= set(dir(Flag))
    # The attributes replaced or dropped are still the protocol's own.
    source = inspect.getsource(websockets_sansio_impl.WebSocketsSansIOProtocol)
    for attribute in ("self.queue", "self.writable", "self.request", "self.response"):
        assert attribute in source
