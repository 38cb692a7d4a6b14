"""A unit of work: one transaction on one connection, whose events go out only after it commits."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mychat.broker import Broker
from mychat.events import Event, EventKind
from mychat.tables import chat_members

log = logging.getLogger("chat_service.events")


@dataclass
class UnitOfWork:
    """The transaction's connection, and the events to publish if it commits."""

    connection: AsyncConnection
    events: list[Event] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        """Queue an event; it goes out only if the transaction commits."""
        self.events.append(event)

    async def address_events(self) -> None:
        """Name each chat event's recipients: the chat's members now, at the end of the
        transaction (a writer has locked the chat, so they stay so until the commit), plus who
        left or was removed by it (mychat.events.Event.recipients)."""
        chat_ids = sorted({e.chat_id for e in self.events if e.chat_id and e.recipients is None})
        if not chat_ids:
            return
        members = await member_ids(self.connection, chat_ids)
        for index, event in enumerate(self.events):
            if not event.chat_id or event.recipients is not None:
                continue
            recipients = set(members[event.chat_id])
            if event.kind in _LEAVING:
                recipients.add(int(event.payload["user"]["id"]))
            self.events[index] = dataclasses.replace(event, recipients=frozenset(recipients))


async def member_ids(connection: AsyncConnection, chat_ids: list[int]) -> dict[int, set[int]]:
    """Each chat's members now (an empty set for a chat with none, or none at all)."""
    members: dict[int, set[int]] = {chat_id: set() for chat_id in chat_ids}
    rows = await connection.execute(_MEMBERS, {"chat_ids": chat_ids})
    for chat_id, user_id in rows:
        members[chat_id].add(user_id)
    return members


_cm = chat_members.c
_MEMBERS = select(_cm.chat_id, _cm.user_id).where(
    _cm.chat_id.in_(bindparam("chat_ids", expanding=True))
)
# Events that tell a user they are out: they are among its recipients.
_LEAVING = frozenset({EventKind.MEMBER_LEFT, EventKind.MEMBER_REMOVED})


@asynccontextmanager
async def unit_of_work(engine: AsyncEngine, broker: Broker) -> AsyncIterator[UnitOfWork]:
    """Commit once at the end, then publish the queued events (addressed to the members as of
    the commit); a rollback publishes nothing."""
    async with engine.begin() as connection:
        work = UnitOfWork(connection)
        yield work
        await work.address_events()
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
