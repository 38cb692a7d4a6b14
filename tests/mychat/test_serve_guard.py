"""`mychat serve`'s guard against slowloris, huge headers and connection floods, on a real
uvicorn and raw sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import Receive, Scope, Send

from mychat.serve_guard import ServeLimits, guarded_http
from tests.support.ports import free_port


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@asynccontextmanager
async def guarded(limits: ServeLimits) -> AsyncIterator[int]:
    port = free_port()
    config = uvicorn.Config(
        hello,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        http=guarded_http(limits),
        # Loopback is not a trusted forwarder here, so it is counted per address.
        forwarded_allow_ips="10.9.9.9",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def _get(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


async def test_headers_over_the_limit_get_431_and_the_server_stays_up() -> None:
    async with guarded(ServeLimits(max_header_bytes=16 * 1024)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
        answered = asyncio.create_task(asyncio.wait_for(reader.read(), 5))
        sent = 0
        try:
            while sent < 40 * 1024 * 1024 and not answered.done():  # the attack sent 40 MB
                writer.write(b"a" * 65536)
                await writer.drain()
                sent += 65536
                await asyncio.sleep(0)
        except ConnectionError:
            pass
        answer = await answered
        writer.close()
        assert answer.startswith(b"HTTP/1.1 431"), answer[:100]
        assert sent < 4 * 1024 * 1024  # refused long before the 40 MB
        assert (await _get(port)).startswith(b"HTTP/1.1 200")


async def test_slow_or_silent_headers_time_out_with_408() -> None:
    async with guarded(ServeLimits(header_timeout=0.5)) as port:
        slow_reader, slow = await asyncio.open_connection("127.0.0.1", port)
        slow.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the end of the headers
        silent_reader, silent = await asyncio.open_connection("127.0.0.1", port)
        assert (await asyncio.wait_for(slow_reader.read(), 3)).startswith(b"HTTP/1.1 408")
        assert (await asyncio.wait_for(silent_reader.read(), 3)).startswith(b"HTTP/1.1 408")
        slow.close()
        silent.close()
        assert (await _get(port)).startswith(b"HTTP/1.1 200")


async def test_connections_per_address_and_in_all_are_capped() -> None:
    async with guarded(ServeLimits(connections_per_address=3)) as port:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        assert await _get(port) == b""  # the fourth from this address is closed at once
        held.pop()[1].close()
        await asyncio.sleep(0.1)
        assert (await _get(port)).startswith(b"HTTP/1.1 200")
        for _reader, writer in held:
            writer.close()
    async with guarded(ServeLimits(max_connections=2)) as port:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        assert await _get(port) == b""
        for _reader, writer in held:
            writer.close()
