"""The gateway's service client and transports, against real sockets and a real ASGI app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.clients import ServiceClient, ServiceError, ServiceUnavailable
from gateway.transport import HttpTransport, InProcessTransport
from tests.support.ports import free_port, serving

OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


@dataclass
class FlakyService:
    """A raw HTTP server that closes the first connection without answering (the keep-alive
    race: the service closed a pooled connection just as the gateway reused it)."""

    url: str
    methods: list[str] = field(default_factory=list)


@pytest.fixture
async def flaky() -> AsyncIterator[FlakyService]:
    service = FlakyService("")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                service.methods.append(head.split(b" ")[0].decode())
                if len(service.methods) == 1:
                    return  # closed without an answer
                writer.write(OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    service.url = f"http://127.0.0.1:{port}"
    async with server:
        yield service


async def test_a_read_is_sent_again_after_a_dropped_connection(flaky: FlakyService) -> None:
    transport = HttpTransport(flaky.url)
    try:
        body = await ServiceClient(transport, None, set()).call("GET", "/internal/chat-ids")
    finally:
        await transport.aclose()
    assert body == {"ok": True}
    assert flaky.methods == ["GET", "GET"]


async def test_a_write_is_never_repeated(flaky: FlakyService) -> None:
    transport = HttpTransport(flaky.url)
    try:
        with pytest.raises(ServiceUnavailable):
            await ServiceClient(transport, None, set()).call("POST", "/internal/chats", json={})
    finally:
        await transport.aclose()
    assert flaky.methods == ["POST"]


async def test_an_unreachable_service_is_unavailable() -> None:
    transport = HttpTransport(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(ServiceUnavailable, match="cannot connect"):
            await ServiceClient(transport, None, set()).call("GET", "/internal/chat-ids")
    finally:
        await transport.aclose()


async def echo(request: Request) -> JSONResponse:
    if request.query_params.get("fail"):
        return JSONResponse({"error": "No such chat", "code": "not_found"}, status_code=404)
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params),
            "client": request.client.host if request.client else None,
            "authorization": request.headers.get("authorization"),
            "body": (await request.json()) if request.method == "POST" else None,
        }
    )


ECHO = Starlette(routes=[Route("/internal/echo", echo, methods=["GET", "POST"])])
# What ECHO answers to the POST both transports send: token, caller's address, params, body.
ECHOED = {
    "method": "POST",
    "path": "/internal/echo",
    "query": {"n": "5"},
    "client": "203.0.113.7",
    "authorization": "Bearer tok",
    "body": {"text": "héllo"},
}


async def test_in_process_calls_carry_token_address_params_and_body() -> None:
    client = ServiceClient(InProcessTransport(ECHO, "chat.internal"), "tok", set(), "203.0.113.7")
    got = await client.call("POST", "/internal/echo", params={"n": 5}, json={"text": "héllo"})
    assert got == ECHOED
    with pytest.raises(ServiceError) as failed:
        await client.call("GET", "/internal/echo", params={"fail": 1})
    assert (failed.value.status, failed.value.code) == (404, "not_found")


async def test_http_calls_carry_the_same() -> None:
    async with serving(ECHO) as base_url:
        transport = HttpTransport(base_url + "/")
        try:
            client = ServiceClient(transport, "tok", set(), "203.0.113.7")
            got = await client.call(
                "POST", "/internal/echo", params={"n": 5}, json={"text": "héllo"}
            )
        finally:
            await transport.aclose()
    # uvicorn trusts X-Forwarded-For from loopback (forwarded_allow_ips), as the services do
    # from the gateway in the topology.
    assert got == ECHOED
