"""Work the gateway starts and does not wait for (closing sockets, touching sessions, presence).

The event loop keeps only weak references to tasks: one nobody holds can vanish mid-way. These
are held until they finish, and a stopping gateway waits a bounded time for what is left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

DRAIN_SECONDS = 5.0


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[None]] = set()

    def start(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait up to DRAIN_SECONDS for the tasks still running (they are not cancelled)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=DRAIN_SECONDS)
