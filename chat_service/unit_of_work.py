"""A unit of work: one transaction whose events are published only after it commits."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mychat.broker import Broker
from mychat.events import Event

PENDING_EVENTS_KEY = "chat_service.pending_events"

log = logging.getLogger("chat_service.events")


def emit(session: AsyncSession, event: Event) -> None:
    """Queue an event; it goes out only if the session's transaction commits."""
    pending: list[Event] = session.info.setdefault(PENDING_EVENTS_KEY, [])
    pending.append(event)


def pending_events(session: AsyncSession) -> list[Event]:
    """The events queued so far (tests and callers that own the session use this)."""
    return list(session.info.get(PENDING_EVENTS_KEY, []))


@asynccontextmanager
async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession], broker: Broker
) -> AsyncIterator[AsyncSession]:
    """Commit once at the end, then publish the queued events; a rollback publishes nothing."""
    async with sessions() as session:
        async with session.begin():
            yield session
        events = session.info.pop(PENDING_EVENTS_KEY, [])
    await publish_events(broker, events)


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
