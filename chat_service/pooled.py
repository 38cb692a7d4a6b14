"""A driver connection checked out of an engine's pool for one piece of work, and its return.

The hot paths (the seed's history read, the send group, the search indexer's batch) speak to
the database driver directly: no AsyncConnection around it (bench/PROFILE.md, "Issue 11's last
rule"). They share how such a connection goes back: after the work, to the pool with no reset
(an autocommit engine: any transaction of the work has ended); after a failure or cancellation,
whose protocol state is unknown, closed and never reused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util.concurrency import greenlet_spawn


@asynccontextmanager
async def driver_connection(
    engine: AsyncEngine, *, reusable_after: tuple[type[BaseException], ...] = ()
) -> AsyncIterator[Any]:
    """The driver connection of a pooled connection of `engine` (mychat.db's autocommit
    engine). An exception in `reusable_after` leaves it usable (the work rolled back itself)."""
    pooled = await engine.raw_connection()
    try:
        yield pooled.driver_connection
    except reusable_after:
        await greenlet_spawn(pooled.close)
        raise
    except BaseException as error:  # incl. cancellation: the protocol state is unknown
        # Not reused: invalidate() closes the driver connection at once (no awaiting), and the
        # server rolls back what it left open.
        pooled.invalidate(error if isinstance(error, Exception) else None)
        pooled.close()
        raise
    await greenlet_spawn(pooled.close)  # awaits the driver only to return it
