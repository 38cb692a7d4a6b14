"""A task that runs for the life of a block (an app's lifespan) and is cancelled at its end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import Any


@asynccontextmanager
async def running(work: Coroutine[Any, Any, None], name: str) -> AsyncIterator[None]:
    task = asyncio.create_task(work, name=name)
    try:
        yield
    finally:
        await cancelled(task)


async def cancelled(task: asyncio.Task[Any]) -> None:
    """Cancel the task and wait for its end. Cancelled again each second while it runs: a
    cancellation can be lost (Python 3.11's asyncio.wait_for returns a result that arrived as it
    was cancelled, and asyncmy connects through it), and the task would run on for good."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    with suppress(asyncio.CancelledError):
        await task
