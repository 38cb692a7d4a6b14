"""A send to a client that is gone ends quietly: no exception out of our WebSocket adapter, so
Strawberry's operation task has nothing to log ("Exception in worker task" with a traceback
for every such send was 18% of a gateway's CPU while 1,000 viewers connected)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from gateway.websocket import SharedDocuments, SizeLimitedWebSocketAdapter
from mychat.ws_protocol import LeanHttpProtocol, LeanWebSocketProtocol
from tests.support.ports import free_port, serving


class JsonView:
    """What the adapter needs of Strawberry's view: its JSON encoding, and the documents its
    sockets share (GatewayGraphQL's)."""

    def __init__(self) -> None:
        self.shared_documents = SharedDocuments()

    def encode_json(self, data: object) -> str:
        return json.dumps(data)


async def test_a_send_to_a_client_that_left_neither_raises_nor_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcome: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        adapter = SizeLimitedWebSocketAdapter(cast(Any, JsonView()), websocket, websocket)
        await adapter.send_json({"type": "next", "payload": {"data": 1}})
        assert (await websocket.receive())["type"] == "websocket.disconnect"  # the client left
        try:
            await adapter.send_json({"type": "next", "payload": {"data": 2}})  # an event after
        except BaseException as error:  # what Strawberry's task would log with a traceback
            outcome.set_result(error)
            raise
        outcome.set_result(None)

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    port = free_port()
    async with serving(app, port, lifespan="off", ws=LeanWebSocketProtocol, http=LeanHttpProtocol):
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as client:
            assert json.loads(await client.recv())["payload"]["data"] == 1
        async with asyncio.timeout(10):
            error = await outcome
    assert error is None, repr(error)
    assert not [record for record in caplog.records if record.exc_info]
