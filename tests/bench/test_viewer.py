"""bench.viewer.MarkReader marks read as web/src/views/chatView.js does, over the viewer's
socket as web/src/apollo.js sends it."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect

from bench.viewer import MarkReader, MarkSpec, SocketMutations
from tests.support.ports import serving

EVERY = 0.3
SPREAD = 0.15


def recorder(calls: list[tuple[float, Any]]) -> Starlette:
    """Answers markRead operations like the gateway does (`next`, then `complete`),
    remembering when and what was marked."""

    async def graphql(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol="graphql-transport-ws")
        try:
            while True:
                frame = json.loads(await websocket.receive_text())
                calls.append((time.monotonic(), frame["payload"]["variables"]["messageId"]))
                answer = {"data": {"markRead": {"__typename": "MarkReadPayload"}}}
                await websocket.send_json({"id": frame["id"], "type": "next", "payload": answer})
                await websocket.send_json({"id": frame["id"], "type": "complete"})
        except WebSocketDisconnect:
            pass

    return Starlette(routes=[WebSocketRoute("/graphql", graphql)])


@asynccontextmanager
async def reader_on_socket(calls: list[tuple[float, Any]]) -> AsyncIterator[MarkReader]:
    """A reader whose socket's frames are handed to it, as bench.wsclients' receive loop does."""
    async with serving(recorder(calls)) as base:
        url = base.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
            spec = MarkSpec("mutation M { x }", "chat", EVERY, SPREAD)
            # Each wait the whole spread (its random part fixed at 1).
            reader = MarkReader(SocketMutations(socket), spec, spread_part=lambda: 1.0)

            async def receive() -> None:
                async for raw in socket:
                    assert reader.mutations.offer(json.loads(raw))

            receiving = asyncio.create_task(receive())
            try:
                yield reader
            finally:
                receiving.cancel()


async def test_at_most_one_mark_per_interval_first_at_once_then_the_newest() -> None:
    calls: list[tuple[float, Any]] = []
    async with reader_on_socket(calls) as reader:
        started = time.monotonic()
        for number in range(1, 8):  # a message every 0.1 s for 0.7 s
            reader.message(f"m{number}", number)
            await asyncio.sleep(0.1)
        await asyncio.sleep(EVERY)
        await reader.stop()
    marked = [message for _, message in calls]
    assert marked[0] == "m1"  # the first at once
    assert calls[0][0] - started < 0.1
    assert marked[-1] == "m7"  # the newest is marked when due
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(calls)]
    # The interval, then the spread's random part (fixed at all of it here) on top: viewers
    # whose marks once fell together do not stay in step.
    assert all(gap >= EVERY + SPREAD - 0.02 for gap in gaps), gaps
    assert len(calls) <= 1 + int(0.7 / EVERY) + 1
    assert reader.state.acknowledged == 7
    assert reader.state.failures == 0


async def test_nothing_new_nothing_marked_and_stop_ends_marking() -> None:
    calls: list[tuple[float, Any]] = []
    async with reader_on_socket(calls) as reader:
        reader.message("m1", 1)
        await asyncio.sleep(EVERY + 0.1)
        reader.mark()  # the same newest message: not again
        await reader.stop()
        reader.message("m2", 2)  # stopped: no more marks
        await asyncio.sleep(0.05)
    assert [message for _, message in calls] == ["m1"]
    assert reader.state.marks == 1


async def test_after_a_quiet_while_a_mark_waits_its_spread() -> None:
    calls: list[tuple[float, Any]] = []
    async with reader_on_socket(calls) as reader:
        reader.message("m1", 1)  # the chat opens: at once
        await asyncio.sleep(EVERY + 0.1)
        arrived = time.monotonic()
        reader.message("m2", 2)  # a message after a quiet while: not at once
        await asyncio.sleep(SPREAD + 0.1)
        await reader.stop()
    assert [message for _, message in calls] == ["m1", "m2"]
    assert calls[1][0] - arrived >= SPREAD - 0.02
