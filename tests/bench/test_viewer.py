"""bench.viewer.MarkReader marks read as web/src/views/chatView.js does."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.viewer import MarkReader, MarkSpec, mark_session
from tests.support.ports import serving

EVERY = 0.3


def recorder(calls: list[tuple[float, Any]]) -> Starlette:
    """Answers markRead like the gateway does, remembering when and what was marked."""

    async def graphql(request: Request) -> JSONResponse:
        body = await request.json()
        calls.append((time.monotonic(), body["variables"]["messageId"]))
        return JSONResponse({"data": {"markRead": {"__typename": "MarkReadPayload"}}})

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])


async def test_at_most_one_mark_per_interval_first_at_once_then_the_newest() -> None:
    calls: list[tuple[float, Any]] = []
    async with serving(recorder(calls)) as base, mark_session() as client:
        spec = MarkSpec([f"{base}/graphql"], "mutation M { x }", "chat", EVERY)
        reader = MarkReader(client, spec.urls[0], "token", spec)
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
    assert all(gap >= EVERY - 0.02 for gap in gaps), gaps
    assert len(calls) <= 1 + int(0.7 / EVERY) + 1
    assert reader.state.acknowledged == 7
    assert reader.state.failures == 0


async def test_nothing_new_nothing_marked_and_stop_ends_marking() -> None:
    calls: list[tuple[float, Any]] = []
    async with serving(recorder(calls)) as base, mark_session() as client:
        spec = MarkSpec([f"{base}/graphql"], "mutation M { x }", "chat", EVERY)
        reader = MarkReader(client, spec.urls[0], "token", spec)
        reader.message("m1", 1)
        await asyncio.sleep(EVERY + 0.1)
        reader.mark()  # the same newest message: not again
        await reader.stop()
        reader.message("m2", 2)  # stopped: no more marks
        await asyncio.sleep(0.05)
    assert [message for _, message in calls] == ["m1"]
