"""GraphQL WebSockets skip Starlette's HTTP-only layers but keep the access log and request id;
everything else still goes through the full stack."""

from __future__ import annotations

import asyncio
import logging

import pytest
import websockets

from tests.gateway.conftest import GRAPHQL, LiveServer
from tests.support.websocket import TRANSPORT_WS, graphql_socket

TIMEOUT = 5.0


async def access_lines(caplog: pytest.LogCaptureFixture, path: str) -> list[str]:
    """The access log lines for WebSockets on `path` (written when the socket's handler ends)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            lines = [
                record.getMessage()
                for record in caplog.records
                if record.name == "mychat.access" and f" WS {path} " in record.getMessage()
            ]
            if lines:
                return lines
            await asyncio.sleep(0.02)


async def test_a_graphql_socket_is_logged_with_its_request_id(
    live: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mychat.access")
    alice = await live.gateway.register("Alice")
    async with websockets.connect(
        live.ws_url,
        subprotocols=[websockets.Subprotocol(TRANSPORT_WS)],
        additional_headers={"X-Request-Id": "ws-req-42"},
        open_timeout=TIMEOUT,
    ) as connection:
        await connection.send(
            '{"type": "connection_init", "payload": {"authorization": "Bearer '
            + alice.token
            + '"}}'
        )
        assert "connection_ack" in str(await connection.recv())
    [line] = await access_lines(caplog, GRAPHQL)
    assert line.endswith("rid=ws-req-42")


async def test_a_socket_elsewhere_still_takes_the_full_stack(
    live: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mychat.access")
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with graphql_socket(live.ws_url + "/elsewhere", init=False):
            pass
    assert refused.value.response.status_code == 403  # Starlette's router: no such route
    [line] = await access_lines(caplog, GRAPHQL + "/elsewhere")
    assert "rid=" in line
