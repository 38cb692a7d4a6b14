"""A small real WebSocket client speaking graphql-transport-ws or the legacy graphql-ws."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.http11 import USER_AGENT

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
TIMEOUT = 10.0


class GraphQLSocket:
    def __init__(self, connection: ClientConnection, protocol: str) -> None:
        self.connection = connection
        self.protocol = protocol
        self._next_id = 0

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv(), timeout)
        # Both protocols send JSON in text frames; browsers' clients cannot read binary ones.
        assert isinstance(raw, str), f"binary frame: {raw!r}"
        message: dict[str, Any] = json.loads(raw)
        return message

    async def init(self, payload: dict[str, Any] | None) -> dict[str, Any]:
        await self.send({"type": "connection_init", "payload": payload or {}})
        return await self.receive()

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._next_id += 1
        op_id = str(self._next_id)
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        payload = {"query": query, "variables": variables or {}}
        await self.send({"id": op_id, "type": kind, "payload": payload})
        return op_id

    async def next_payload(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next data/next message's payload (skipping keep-alives)."""
        while True:
            message = await self.receive(timeout)
            if message["type"] in ("ka", "ping", "pong"):
                continue
            return message

    async def until_quiet(self, quiet: float) -> list[dict[str, Any]]:
        """Every message that arrives until none has for `quiet` seconds."""
        messages: list[dict[str, Any]] = []
        while True:
            try:
                messages.append(await self.receive(timeout=quiet))
            except TimeoutError:
                return messages

    async def stop(self, op_id: str) -> None:
        kind = "complete" if self.protocol == TRANSPORT_WS else "stop"
        await self.send({"id": op_id, "type": kind})

    async def wait_closed(self, timeout: float = TIMEOUT) -> int | None:
        """The close code once the server closes the socket."""
        try:
            async with asyncio.timeout(timeout):
                async for _message in self.connection:
                    pass
        except websockets.ConnectionClosed:
            pass
        return self.connection.close_code


def data_type(protocol: str) -> str:
    return "next" if protocol == TRANSPORT_WS else "data"


@asynccontextmanager
async def graphql_socket(
    url: str,
    protocol: str = TRANSPORT_WS,
    *,
    token: str | None = None,
    origin: str | None = None,
    init: bool = True,
    max_size: int | None = 2**20,
    user_agent: str | None = None,
) -> AsyncIterator[GraphQLSocket]:
    headers = {"Origin": origin} if origin else None
    async with websockets.connect(
        url,
        subprotocols=[websockets.Subprotocol(protocol)],
        additional_headers=headers,
        user_agent_header=user_agent or USER_AGENT,
        max_size=max_size,
        open_timeout=TIMEOUT,
    ) as connection:
        socket = GraphQLSocket(connection, protocol)
        if init:
            ack = await socket.init({"authorization": f"Bearer {token}"} if token else {})
            assert ack["type"] == "connection_ack", ack
        yield socket
