"""A unit of work: one transaction on one connection, whose events go out only after it commits."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mychat.broker import Broker
from mychat.events import Event

log = logging.getLogger("chat_service.events")


@dataclass
class UnitOfWork:
    """The transaction's connection, and the events to publish if it commits."""

    connection: AsyncConnection
    events: list[Event] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        """Queue an event; it goes out only if the transaction commits."""
        self.events.append(event)


@asynccontextmanager
async def unit_of_work(engine: AsyncEngine, broker: Broker) -> AsyncIterator[UnitOfWork]:
    """Commit once at the end, then publish the queued events; a rollback publishes nothing."""
    async with engine.begin() as connection:
        work = UnitOfWork(connection)
        yield work
    await publish_events(broker, work.events)


async def publish_events(broker: Broker, events: list[Event]) -> None:
    """Publish events of committed transactions (a failure is logged, not raised)."""
    if not events:
        return
    try:
        await broker.publish_many(events)
    except Exception:  # the writes are committed; subscribers resync from their cursors
        kinds = ", ".join(sorted({event.kind.value for event in events}))
        chats = sorted({event.chat_id for event in events})
        log.exception("could not publish %s (%d events) for chats %s", kinds, len(events), chats)
