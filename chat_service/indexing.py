"""The search index is written beside the send path, not in it: `SearchIndexer`.

A send's transaction stores the message only; after its COMMIT the Sender hands the new messages
(id, chat, text) to the indexer (`add`), whose task writes their `message_search` rows in
batches: per batch one transaction, a shared lock on its messages and one multi-row INSERT. In
the send's transaction the search row cost a statement per message, and FULLTEXT work at COMMIT
while the chats' rows were locked; batched, a row costs a fraction of that (bench/PROFILE.md,
"Search index off the send path").

Consistency:
- A batch only ever adds rows (INSERT IGNORE / ON CONFLICT DO NOTHING), and an edit or delete
  always leaves a row (chat_service/edits.py: it writes the row's words, or empties them,
  inserting the row if the indexer has not yet), so a late batch never brings back words an
  edit replaced or a delete removed: it finds the row there and writes nothing.
- Search right after a send: a search first waits for the messages handed over so far in this
  process (`flush`, bounded by FLUSH_SECONDS), so a sender finds what they sent. Another
  process's sends show up once its indexer has run (within INTERVAL_SECONDS under load).
- Nothing is lost to a crash between a send's COMMIT and its batch: at start the task walks the
  messages stored before it started, newest first, and indexes those without a search row
  (catch-up), between live batches.

A batch runs on the database driver, as the send group does (chat_service.sending), on a
connection of the autocommit engine with an explicit transaction: on MySQL its four statements
go in one round trip (asyncmy's multi-statements). Through SQLAlchemy Core (a transaction of
three round trips, statements run in greenlets, the insert's parameters processed per row) the
batches cost a REST send 7% more instructions (bench/PROFILE.md, "Issue 11's last rule").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chat_service.pooled import driver_connection
from mychat.background import cancelled
from mychat.search_words import indexed_words
from mychat.tables import message_search, messages

log = logging.getLogger("chat_service.indexing")
_T = TypeVar("_T")

# Messages per transaction at most; and how long messages wait for company before their batch
# is written, unless a search of this process waits for them: a transaction costs this process
# ~1 ms of Python whatever its size, so under load a batch holds the sends of 50 ms, not of one
# send group (measured: a batch per group cost more than the search row in the send did).
BATCH = 500
INTERVAL_SECONDS = 0.05
# How long a search waits for this process's indexer before it reads the index anyway.
FLUSH_SECONDS = 2.0
# After a failed batch (the database away), before the next try.
RETRY_SECONDS = 1.0
# Message ids per catch-up statement (a primary-key range and a lookup per message).
CATCH_UP_IDS = 50_000
# How long closing waits for the ids handed over to be indexed (the rest: next start's catch-up).
CLOSE_SECONDS = 5.0

_m, _s = messages.c, message_search.c

# A message to index: (message id, chat id, text).
Indexed = tuple[int, int, str]

# Messages in [low, high) that someone wrote, not deleted, without a search row.
_UNINDEXED = (
    select(_m.id, _m.chat_id, _m.text)
    .outerjoin(message_search, _s.message_id == _m.id)
    .where(
        _m.id >= bindparam("low"),
        _m.id < bindparam("high"),
        _m.kind.is_(None),
        _m.deleted_at.is_(None),
        _s.message_id.is_(None),
    )
    .order_by(_m.id)
)
_NEWEST = select(func.max(_m.id))
# The batch's messages, locked shared before their rows are written: an edit or delete locks
# the message, then writes its row; so does a batch, in that order (the row first and the
# message second, for the foreign key's check, was a deadlock with a delete). On the primary
# key: MariaDB may read a few ids through a smaller secondary index (every one holds the id),
# and a shared lock there does not wait for an edit's lock on the row itself (a deadlock too).
# On SQLite the batch's BEGIN IMMEDIATE takes the database's write lock, which covers them.
# Either way rows are written only for messages that have none (a row there already is the
# current one: see the module docstring).


@cache
def _mysql_batch(messages: int) -> str:
    """BEGIN, the shared locks, the rows of `messages` messages, COMMIT: one round trip.
    Parameters: the message ids, then (chat_id, message_id, words) per message."""
    ids = ", ".join(["%s"] * messages)
    rows = ", ".join(["(%s, %s, %s)"] * messages)
    return ";".join(
        [
            "BEGIN",
            f"SELECT id FROM messages FORCE INDEX (PRIMARY) WHERE id IN ({ids})"  # noqa: S608
            " LOCK IN SHARE MODE",
            f"INSERT IGNORE INTO message_search (chat_id, message_id, words) VALUES {rows}",  # noqa: S608
            "COMMIT",
        ]
    )


_SQLITE_INSERT = (
    "INSERT INTO message_search (chat_id, message_id, words) VALUES (?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)

# A message's search row: (chat_id, message_id, words).
SearchRow = tuple[int, int, str]


async def _write_asyncmy(connection: Any, rows: Sequence[SearchRow]) -> None:
    args: list[object] = [message_id for _, message_id, _ in rows]
    args += [value for row in rows for value in row]
    async with connection.cursor() as cursor:
        await cursor.execute(_mysql_batch(len(rows)), args)
        while await cursor.nextset():  # raises the error of a failed statement; then COMMIT
            pass


async def _write_aiosqlite(connection: Any, rows: Sequence[SearchRow]) -> None:
    # isolation_level None (the autocommit engine): the transaction is ours alone.
    await connection.execute("BEGIN IMMEDIATE")
    await connection.executemany(_SQLITE_INSERT, rows)
    await connection.execute("COMMIT")


_WRITERS: dict[str, Callable[[Any, Sequence[SearchRow]], Awaitable[None]]] = {
    "mysql": _write_asyncmy,
    "sqlite": _write_aiosqlite,
}


async def write_words(
    connection: AsyncConnection, chat_id: int, message_id: int, text: str
) -> None:
    """Make a message's search row hold the words of `text` (an edit; a delete passes ""),
    inserting the row if no batch has written it yet: a batch that comes later then leaves it
    alone. In the caller's transaction, which has locked the message."""
    values = {"chat_id": chat_id, "message_id": message_id, "words": indexed_words(chat_id, text)}
    if connection.dialect.name == "mysql":
        upsert = mysql.insert(message_search).values(values)
        await connection.execute(upsert.on_duplicate_key_update(words=upsert.inserted.words))
    else:
        insert = sqlite.insert(message_search).values(values)
        await connection.execute(
            insert.on_conflict_do_update(
                index_elements=[_s.chat_id, _s.message_id], set_={"words": insert.excluded.words}
            )
        )


class SearchIndexer:
    """Writes the search rows of the messages handed to it, in batches (see the module
    docstring), each in a transaction of its own on a driver connection of
    `autocommit_engine` (mychat.db.create_autocommit_engine), where the catch-up reads too."""

    def __init__(self, autocommit_engine: AsyncEngine) -> None:
        self._autocommit_engine = autocommit_engine
        self._write = _WRITERS[autocommit_engine.dialect.name]
        self._pending: list[Indexed] = []
        self._wake = asyncio.Event()
        # Ids handed over so far, and how many of them (the oldest first) are indexed.
        self._added = 0
        self._indexed = 0
        self._progress = asyncio.Condition()
        # Set while a search waits (flush): write the batch now.
        self._hurry = asyncio.Event()
        self._flushing = 0
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.batches = 0  # transactions so far (tests)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="search-indexer")

    def add(self, found: Sequence[Indexed]) -> None:
        """Index these committed messages soon (no waiting)."""
        if found:
            self._pending.extend(found)
            self._added += len(found)
            self._wake.set()

    async def flush(self, seconds: float = FLUSH_SECONDS) -> None:
        """Wait until the ids handed over before this call are indexed, at most `seconds`."""
        target = self._added
        if self._indexed >= target:
            return
        self._flushing += 1
        self._hurry.set()
        try:
            async with asyncio.timeout(seconds), self._progress:
                await self._progress.wait_for(lambda: self._indexed >= target)
        except TimeoutError:
            log.warning("search index behind by %d messages", target - self._indexed)
        finally:
            self._flushing -= 1

    async def close(self) -> None:
        """Index what was handed over (for at most CLOSE_SECONDS), then stop."""
        if self._task is None:
            return
        await self.flush(CLOSE_SECONDS)
        self._closing = True  # a step that fails now is not tried again (see _retrying)
        with contextlib.suppress(Exception):
            await cancelled(self._task)
        self._task = None

    async def _run(self) -> None:
        catch_up_below = await self._retrying(self._newest_id) + 1
        while True:
            if self._pending:
                if len(self._pending) < BATCH and not self._flushing:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(INTERVAL_SECONDS):
                            await self._hurry.wait()
                if not self._flushing:
                    self._hurry.clear()
                batch = self._pending[:BATCH]
                await self._retrying(self._index, batch)
                del self._pending[: len(batch)]
                async with self._progress:
                    self._indexed += len(batch)
                    self._progress.notify_all()
            elif catch_up_below > 1:
                low = max(1, catch_up_below - CATCH_UP_IDS)
                high = catch_up_below
                found = await self._retrying(self._unindexed, low, high)
                catch_up_below = low
                if found:
                    log.info("search index: catching up %d messages", len(found))
                    self.add(found)
            else:
                self._wake.clear()
                await self._wake.wait()

    async def _retrying(self, step: Callable[..., Awaitable[_T]], *args: object) -> _T:
        """The step's result; a failure (the database away) is logged and tried again."""
        while True:
            try:
                return await step(*args)
            except Exception:
                # The driver may turn the cancellation of a close into an error of its own
                # (a connect cut short): then stop, never retry forever.
                if self._closing:
                    raise
                log.exception("search index: will try again in %.0f s", RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)

    async def _newest_id(self) -> int:
        async with self._autocommit_engine.connect() as connection:
            return int(await connection.scalar(_NEWEST) or 0)

    async def _unindexed(self, low: int, high: int) -> list[Indexed]:
        async with self._autocommit_engine.connect() as connection:
            rows = await connection.execute(_UNINDEXED, {"low": low, "high": high})
            return [(row[0], row[1], row[2]) for row in rows]

    async def _index(self, batch: Sequence[Indexed]) -> None:
        ordered = sorted(batch)  # by message id: two batches lock in one order
        rows = [(chat_id, id_, indexed_words(chat_id, text)) for id_, chat_id, text in ordered]
        async with driver_connection(self._autocommit_engine) as connection:
            await self._write(connection, rows)
        self.batches += 1
