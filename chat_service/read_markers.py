"""Read markers that cost at most one database write per reader and chat every 2 seconds.

A reader with a busy chat open marks it read with every incoming message; a gateway sends the
marks its callers made meanwhile in one call (docs/internal-api.md). `ReadMarkers.mark_many`
answers each at once (the marker as it now stands and the unread count it leaves, read against
that marker), but writes a reader's marker of a chat at most once every `interval` seconds: the
first at once, later ones into a pending slot that keeps the highest id asked for and is written
when the interval since the last write has passed. The markers due at one moment are written
together: one unit of work (one commit, a few statements: chat_service.marker_writes), and each
`messages_read` event (read receipts; the reader's other devices) follows that commit. With a
thousand viewers of a busy chat that is a few commits a second, not one per viewer; one batch is
written at a time, and the markers that fall due meanwhile make the next. A marker
pending when the service stops is written on the way out (`close`).

Per process: with several chat_service processes a reader's calls may land on each, and each
holds to the rule on its own. What it keeps is bounded: the time of the last write per
(chat, reader) is forgotten once older than the interval.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Coroutine, Sequence
from typing import NamedTuple

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chat_service.access import access_for_users
from chat_service.marker_writes import MarkerDue, move_markers
from chat_service.unit_of_work import unit_of_work
from chat_service.views import Chat
from mychat.broker import Broker
from mychat.http import ApiError
from mychat.tables import messages

log = logging.getLogger(__name__)

READ_MARKER_SECONDS = 2.0
# Write times kept before old ones are swept (each older than the interval is useless).
SWEEP_AT = 10_000

_m = messages.c
_UNREAD_AFTER = select(func.count()).where(
    and_(
        _m.chat_id == bindparam("chat_id"),
        _m.id > bindparam("marker"),
        _m.sender_id != bindparam("user_id"),
        _m.kind.is_(None),  # system lines are never unread (as in the chat list's count)
    )
)

Key = tuple[int, int]  # (chat_id, user_id)


class MarkAsked(NamedTuple):
    chat_id: int
    user_id: int
    message_id: int
    origin: str | None = None  # the gateway connection that marked (None: not said)


Marked = tuple[int, Chat]  # the marker now, and the chat with the unread count it leaves


class ReadMarkers:
    def __init__(
        self, engine: AsyncEngine, broker: Broker, interval: float = READ_MARKER_SECONDS
    ) -> None:
        self._engine = engine  # units of work (writes)
        self._broker = broker
        self._interval = interval
        self._pending: dict[Key, int] = {}  # highest marker asked for, not written yet
        # Who asked for a write not made yet: one connection, or None once marks of several
        # (or of one that did not say) were gathered into it (marker_writes.MarkerDue.origin).
        self._origins: dict[Key, str | None] = {}
        self._written: dict[Key, float] = {}  # monotonic time of the last write
        self._flushes: dict[Key, asyncio.Task[None]] = {}
        # Markers to write in the next batch, and that batch (None until one is asked for);
        # the batch being written, which the next one waits for.
        self._due: dict[Key, int] = {}
        self._batch: asyncio.Task[None] | None = None
        self._writing: asyncio.Task[None] | None = None
        self.writes = 0  # markers written so far (tests and the bench count them)
        self.batches = 0  # their units of work

    async def mark_many(
        self, connection: AsyncConnection, asked: Sequence[MarkAsked]
    ) -> list[Marked | ApiError]:
        """Each reader's marker moved forward (never back, never past the chat's newest
        message), in the order asked: (the marker now, the chat with the unread count it
        leaves), or the 404/403 any chat call meets. One access statement per chat for all its
        readers (chat_service.access.access_for_users)."""
        found = await access_for_users(connection, [(a.chat_id, a.user_id) for a in asked])
        answers: list[Marked | ApiError] = []
        writes: list[Coroutine[None, None, None]] = []
        for chat_id, user_id, message_id, origin in asked:
            access = found[(chat_id, user_id)]
            if isinstance(access, ApiError):
                answers.append(access)
                continue
            key = (chat_id, user_id)
            stored = max(access.last_read_message_id, self._pending.get(key, 0))
            target = min(message_id, access.chat.last_message_id or 0)
            if target > stored:
                self._origins[key] = origin if self._origins.get(key, origin) == origin else None
                writes.append(self._request(key, target))
            marker = max(target, stored)
            unread = 0
            # A reader at the chat's newest message (the usual mark) has nothing unread as of
            # the statement that read the chat: only system lines, never unread, come after it.
            if marker < (access.chat.last_message_id or 0):
                params = {"chat_id": chat_id, "user_id": user_id, "marker": marker}
                unread = int(await connection.scalar(_UNREAD_AFTER, params) or 0)
            answers.append((marker, dataclasses.replace(access.chat, unread_count=unread)))
        # Together: the markers due now join one batch (one commit), not one commit each.
        await asyncio.gather(*writes)
        return answers

    async def _request(self, key: Key, target: int) -> None:
        if key in self._flushes:  # a write is due: it takes the highest asked for
            self._pending[key] = target
            return
        wait = self._written.get(key, -self._interval) + self._interval - time.monotonic()
        if wait <= 0:
            await self._write(key, target)
            return
        self._pending[key] = target
        flush = asyncio.create_task(self._flush_after(key, wait), name="read-marker")
        self._flushes[key] = flush

    async def _flush_after(self, key: Key, wait: float) -> None:
        try:
            await asyncio.sleep(wait)
        finally:
            # Also when cancelled by close(): the marker is written on the way out.
            self._flushes.pop(key, None)
            target = self._pending.pop(key, None)
            if target is not None:
                await self._write(key, target)

    async def _write(self, key: Key, target: int) -> None:
        """Until the marker is written, with the others due now (`_write_due`)."""
        self._written[key] = time.monotonic()
        self._sweep()
        self._due[key] = max(target, self._due.get(key, 0))
        batch = self._batch
        if batch is None:
            batch = self._batch = asyncio.create_task(self._write_due(), name="read-markers")
        # Shielded: a caller that gives up (a request cancelled) leaves the others' write alone.
        await asyncio.shield(batch)

    async def _write_due(self) -> None:
        # One unit of work at a time: the markers that fall due while one is written wait for it
        # and go together (a thousand readers' markers fall due spread over each 2 s; one unit
        # each took chat_service and the database a transaction apiece, all queued on the same
        # chat row lock anyway).
        previous, self._writing = self._writing, self._batch
        if previous is not None and not previous.done():
            await asyncio.wait({previous})
        # Markers asked for from now on go to the next batch.
        due, self._due, self._batch = sorted(self._due.items()), {}, None
        markers = [MarkerDue(*key, target, self._origins.pop(key, None)) for key, target in due]
        async with unit_of_work(self._engine, self._broker) as work:
            written = await move_markers(work, markers)
        self.writes += written
        self.batches += 1

    def _sweep(self) -> None:
        if len(self._written) < SWEEP_AT:
            return
        oldest = time.monotonic() - self._interval
        self._written = {key: at for key, at in self._written.items() if at > oldest}

    async def close(self) -> None:
        """Write what is pending now (the service is stopping)."""
        flushes = list(self._flushes.values())
        for flush in flushes:
            flush.cancel()
        for result in await asyncio.gather(*flushes, return_exceptions=True):
            if isinstance(result, Exception):
                log.warning("a read marker was not written on shutdown: %r", result)
