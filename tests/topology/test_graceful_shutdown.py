"""Shutdown as `mychat serve` does it: WebSockets get 1012 at once, requests in flight finish."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from mychat.shutdown import SERVICE_RESTART, GracefulServer, graceful_server
from tests.support.ports import free_port

pytestmark = pytest.mark.topology


def app_with_a_socket_and_a_slow_route(disconnects: list[int]) -> Starlette:
    async def slow(_request: Request) -> Response:
        await asyncio.sleep(0.5)
        return PlainTextResponse("finished")

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                text = await websocket.receive_text()
                await websocket.send_text(text)
        except WebSocketDisconnect as disconnect:
            disconnects.append(disconnect.code)
            # A handler that tries to say more after the goodbye must not crash the server.
            await websocket.send_text("too late")

    return Starlette(routes=[Route("/slow", slow), WebSocketRoute("/socket", echo)])


@pytest.fixture
async def running() -> AsyncIterator[tuple[GracefulServer, int, list[int]]]:
    disconnects: list[int] = []
    port = free_port()
    server = graceful_server(
        app_with_a_socket_and_a_slow_route(disconnects),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    try:
        yield server, port, disconnects
    finally:
        server.should_exit = True
        await task


async def test_shutdown_closes_websockets_with_1012_and_finishes_requests(
    running: tuple[GracefulServer, int, list[int]],
) -> None:
    server, port, disconnects = running
    async with (
        connect(f"ws://127.0.0.1:{port}/socket") as first,
        connect(f"ws://127.0.0.1:{port}/socket") as second,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        await first.send("hello")
        assert await first.recv() == "hello"
        in_flight = asyncio.create_task(client.get("/slow"))
        await asyncio.sleep(0.1)  # the request is being handled

        server.should_exit = True  # what SIGTERM does

        for socket in (first, second):
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(5):
                    await socket.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == SERVICE_RESTART
        response = await in_flight
        assert (response.status_code, response.text) == (200, "finished")
    assert disconnects == [SERVICE_RESTART, SERVICE_RESTART]
    # The listening socket closed before the goodbye: nobody new gets in.
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as late:
            await late.get(f"http://127.0.0.1:{port}/slow")
