"""Background work is held until it finishes and drained, not cancelled, when the gateway stops."""

from __future__ import annotations

import asyncio
import gc

from gateway.background import BackgroundTasks


async def test_started_work_runs_to_the_end_and_drain_waits_for_it() -> None:
    background = BackgroundTasks()
    finished: list[str] = []

    async def work() -> None:
        await asyncio.sleep(0.05)
        finished.append("done")

    background.start(work())
    gc.collect()  # nothing else refers to the task: only the set keeps it alive
    await background.drain()
    assert finished == ["done"]
    await background.drain()  # nothing left: returns at once
