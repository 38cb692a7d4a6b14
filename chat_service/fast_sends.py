"""Sending messages on the database driver, many sends to one transaction under load.

Sends run on the driver itself (asyncmy for MySQL/MariaDB, aiosqlite for SQLite) on a connection
of the read engine (autocommit, no reset on return), as chat_service.fast_reads reads: through
SQLAlchemy's session a send paid a greenlet hop and result processing per statement.

Group commit: a send waits in a queue for one of LANES transactions. A lane takes everything
queued (up to MAX_GROUP sends) and stores it in one transaction; sends that arrive meanwhile
wait for the next free lane. Alone, a send starts a lane at once; under load, one transaction's
round trips and commit are shared by many sends (one chat's row lock used to allow one send per
transaction of five round trips). A transaction, in two round trips on MySQL (statements sent
together; the driver allows several per query), one statement at a time on SQLite:

1. BEGIN (SQLite: BEGIN IMMEDIATE, its write lock before anything is read); the row locks of
   its chats, in id order (no deadlock between lanes or processes), before anything else, as
   access_chat_for_user(lock=True) does: no FK shared lock is upgraded, and every membership
   change of those chats waits for this transaction or is seen by it; the senders' memberships
   of those chats (a locking read on MySQL: the latest, not a snapshot). A chat without a row
   does not exist (404); a sender who is not a member is refused (403).
2. One INSERT per accepted send, all dated once under the locks (a chat's messages are dated in
   id order); each chat's newest message and activity time; COMMIT. If nothing is accepted:
   ROLLBACK. A client_id already used fails on the unique index (sender_id, client_id) and
   stops the statements after it: a send that is alone replays the stored message, read with a
   locking read (rows committed after this transaction's snapshot), or gets 409 if it went to
   another chat; in a group, the group is rolled back and each of its sends stored alone.

The message_added events are published after the COMMIT, in id order, before the senders get
their answers; refusals publish nothing. A replay publishes its stored message again: the
process that stored it may have died between the COMMIT and the publish (the sender saw no
answer and retried), and its subscribers would never hear of it; those that did already drop
it by id (gateway/catchup.py's SeenIds). A connection that failed or was cancelled
mid-transaction is invalidated (closed; the server undoes its open transaction), never reused.
A caller that stops waiting (cancelled) drops its send if no lane has taken it yet; a send
already in a transaction is stored and published anyway, as if its answer got lost.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util.concurrency import greenlet_spawn

from chat_service.access import chat_not_found, not_a_member
from chat_service.fast_reads import utc
from chat_service.messages import check_client_id, check_message_text, client_id_used_elsewhere
from chat_service.unit_of_work import publish_events
from chat_service.views import MessageView
from mychat.broker import Broker
from mychat.db import utc_now
from mychat.events import Event, EventKind
from mychat.http import ApiError

Row = tuple[Any, ...]

# Transactions in flight per process: few enough that, under load, each carries many sends;
# more than one, so that a lane waiting for a row lock held by another transaction (a leave, an
# add) does not hold up the other chats' sends. Only if every lane waits so does everything wait.
LANES = 4
# Sends per transaction: bounds its lock time and its packet (a text is at most 4,000 chars).
MAX_GROUP = 64

# chat_id, sender_id, text, client_id, created_at
INSERT = """
INSERT INTO messages (chat_id, sender_id, text, client_id, created_at) VALUES (?, ?, ?, ?, ?)
"""
# sender_id, client_id
STORED_BY_CLIENT_ID = """
SELECT m.id, m.chat_id, m.sender_id, u.nickname, m.text, CAST(m.created_at AS CHAR), m.client_id
FROM messages m JOIN users u ON u.id = m.sender_id
WHERE m.sender_id = ? AND m.client_id = ?
"""


# Statements for n chats or users: built from placeholders only, never from values. On MySQL
# they name the primary key, so that a statement locks the rows it names and no others: with
# many ids in a small table MariaDB scans the whole table otherwise, and a scan locks every row
# it reads (rows of other lanes' chats, out of id order: a deadlock).


@dataclass(frozen=True)
class Dialect:
    """What the statements of a send differ in between MySQL and SQLite."""

    mysql: bool

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.mysql else statement

    def table(self, name: str) -> str:
        return f"{name} FORCE INDEX (PRIMARY)" if self.mysql else name

    def locking(self, clause: str) -> str:
        return f" {clause}" if self.mysql else ""  # SQLite's BEGIN IMMEDIATE locks it all


def _marks(count: int) -> str:
    return ", ".join("?" * count)


@cache
def lock_chats_sql(dialect: Dialect, chats: int) -> str:
    """chat ids (ascending) -> the ids that exist, each row locked."""
    table, marks = dialect.table("chats"), _marks(chats)
    lock = dialect.locking("FOR UPDATE")
    return dialect.sql(f"SELECT id FROM {table} WHERE id IN ({marks}) ORDER BY id{lock}")  # noqa: S608


@cache
def memberships_sql(dialect: Dialect, chats: int, users: int) -> str:
    """chat ids, user ids -> (chat_id, user_id) of each membership among them."""
    where = f"WHERE chat_id IN ({_marks(chats)}) AND user_id IN ({_marks(users)})"
    table, lock = dialect.table("chat_members"), dialect.locking("LOCK IN SHARE MODE")
    return dialect.sql(f"SELECT chat_id, user_id FROM {table} {where}{lock}")  # noqa: S608


@cache
def bump_chats_sql(dialect: Dialect, chats: int) -> str:
    """created_at, chat ids -> each chat's newest message (its own, under the row lock)."""
    # Not MAX(m.id): MariaDB reads every message of the chat for that; this reads one.
    newest = "(SELECT m.id FROM messages m WHERE m.chat_id = chats.id ORDER BY m.id DESC LIMIT 1)"
    table, marks = dialect.table("chats"), _marks(chats)
    return dialect.sql(
        f"UPDATE {table} SET last_message_id = {newest}, last_activity_at = ? WHERE id IN ({marks})"  # noqa: S608
    )


def stored_datetime(moment: datetime) -> str:
    """A UTC datetime as both databases store it (SQLAlchemy's SQLite format, always 6 digits)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


class _Transaction:
    """One transaction's round trips on one driver connection; what differs between drivers."""

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        self._connection = connection
        self._dialect = dialect

    async def begin_and_lock(
        self, chat_ids: Sequence[int], user_ids: Sequence[int]
    ) -> tuple[Sequence[Row], Sequence[Row]]:
        """BEGIN, lock the chats; (existing chat ids, memberships) as rows."""
        raise NotImplementedError

    async def store_and_commit(
        self, rows: Sequence[Sequence[Any]], at: str, chat_ids: Sequence[int]
    ) -> list[int]:
        """Insert the messages, move their chats forward, COMMIT; the new ids in order.

        An IntegrityError leaves the transaction open, with the inserts before it done."""
        raise NotImplementedError

    async def fetch(self, sql: str, args: Sequence[Any]) -> Sequence[Row]:
        raise NotImplementedError

    async def rollback(self) -> None:
        raise NotImplementedError


class _Asyncmy(_Transaction):
    """Each step in one round trip: statements joined by ";", their results read in turn."""

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        super().__init__(connection, dialect)
        self._cursor = connection.cursor()

    async def _results(self, statements: Sequence[str], args: Sequence[Any]) -> None:
        await self._cursor.execute(";".join(statements), args)

    async def begin_and_lock(
        self, chat_ids: Sequence[int], user_ids: Sequence[int]
    ) -> tuple[Sequence[Row], Sequence[Row]]:
        lock = lock_chats_sql(self._dialect, len(chat_ids))
        members = memberships_sql(self._dialect, len(chat_ids), len(user_ids))
        await self._results(["BEGIN", lock, members], [*chat_ids, *chat_ids, *user_ids])
        await self._cursor.nextset()
        chats: Sequence[Row] = await self._cursor.fetchall()
        await self._cursor.nextset()
        memberships: Sequence[Row] = await self._cursor.fetchall()
        return chats, memberships

    async def store_and_commit(
        self, rows: Sequence[Sequence[Any]], at: str, chat_ids: Sequence[int]
    ) -> list[int]:
        insert = self._dialect.sql(INSERT)
        bump = bump_chats_sql(self._dialect, len(chat_ids))
        args = [value for row in rows for value in row]
        await self._results([insert] * len(rows) + [bump, "COMMIT"], [*args, at, *chat_ids])
        ids = [self._cursor.lastrowid]
        while len(ids) < len(rows):
            await self._cursor.nextset()  # raises the error of the statement that failed
            ids.append(self._cursor.lastrowid)
        while await self._cursor.nextset():  # the bump and the COMMIT
            pass
        return ids

    async def fetch(self, sql: str, args: Sequence[Any]) -> Sequence[Row]:
        await self._cursor.execute(sql, args)
        rows: Sequence[Row] = await self._cursor.fetchall()
        return rows

    async def rollback(self) -> None:
        await self._connection.rollback()


class _Aiosqlite(_Transaction):
    # isolation_level None (autocommit): no implicit BEGIN of pysqlite's own. Each statement is
    # one hop to the connection's thread; no network in between.

    async def begin_and_lock(
        self, chat_ids: Sequence[int], user_ids: Sequence[int]
    ) -> tuple[Sequence[Row], Sequence[Row]]:
        await self._connection.execute("BEGIN IMMEDIATE")
        lock = lock_chats_sql(self._dialect, len(chat_ids))
        members = memberships_sql(self._dialect, len(chat_ids), len(user_ids))
        chats = await self.fetch(lock, chat_ids)
        return chats, await self.fetch(members, [*chat_ids, *user_ids])

    async def store_and_commit(
        self, rows: Sequence[Sequence[Any]], at: str, chat_ids: Sequence[int]
    ) -> list[int]:
        ids = []
        for row in rows:
            cursor = await self._connection.execute(INSERT, row)
            ids.append(cursor.lastrowid)
        await self._connection.execute(
            bump_chats_sql(self._dialect, len(chat_ids)), [at, *chat_ids]
        )
        await self._connection.execute("COMMIT")
        return ids

    async def fetch(self, sql: str, args: Sequence[Any]) -> Sequence[Row]:
        rows: Sequence[Row] = await self._connection.execute_fetchall(sql, args)
        return rows

    async def rollback(self) -> None:
        await self._connection.execute("ROLLBACK")


_TRANSACTIONS: dict[str, type[_Transaction]] = {"mysql": _Asyncmy, "sqlite": _Aiosqlite}

# A send's answer: (the message, whether this send stored it) or the refusal.
Outcome = tuple[MessageView, bool] | ApiError


@dataclass(eq=False)
class _Send:
    chat_id: int
    sender_id: int
    sender_nickname: str
    text: str
    client_id: str | None
    answer: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def settle(self, outcome: Outcome | BaseException) -> None:
        if self.answer.done():  # its caller stopped waiting
            return
        if isinstance(outcome, BaseException):
            self.answer.set_exception(outcome)
        else:
            self.answer.set_result(outcome)


class _RetryAlone(Exception):
    """A client_id conflict in a group: roll the group back and store each of its sends alone."""


def _interrupted() -> ApiError:
    return ApiError(503, "unavailable", "The send was interrupted; try again")


class FastSends:
    """Sends on the driver connections of a read engine (owned by the caller)."""

    def __init__(self, engine: AsyncEngine, broker: Broker) -> None:
        self._engine = engine
        self._broker = broker
        self._dialect = Dialect(mysql=engine.dialect.name == "mysql")
        self._transaction = _TRANSACTIONS[engine.dialect.name]
        self._integrity_error: type[Exception] = engine.dialect.loaded_dbapi.IntegrityError
        # A locking read sees rows committed after this transaction's snapshot (InnoDB); shared,
        # as the failed INSERT already holds a shared lock on that index entry.
        self._stored = self._dialect.sql(
            STORED_BY_CLIENT_ID + self._dialect.locking("LOCK IN SHARE MODE")
        )
        self._queue: deque[_Send] = deque()
        self._lanes: set[asyncio.Task[None]] = set()
        self.transactions = 0  # begun so far (tests check that sends share them)

    async def send(
        self, chat_id: int, sender_id: int, sender_nickname: str, text: str, client_id: str | None
    ) -> tuple[MessageView, bool]:
        """Store a message and publish it; (message, created). A repeated client_id returns the
        stored message (created False) and publishes it again."""
        text, client_id = check_message_text(text), check_client_id(client_id)
        pending = _Send(chat_id, sender_id, sender_nickname, text, client_id)
        self._queue.append(pending)
        self._open_lane()
        outcome = await pending.answer
        if isinstance(outcome, ApiError):
            raise outcome
        return outcome

    async def close(self) -> None:
        """Wait for the transactions in flight (the callers of their sends are waiting too)."""
        while self._lanes:
            await asyncio.wait(set(self._lanes))

    def _open_lane(self) -> None:
        """A lane for the send just queued, unless all are taken: one of them will take it."""
        if len(self._lanes) < LANES:
            lane = asyncio.create_task(self._lane(), name="chat-sends")
            self._lanes.add(lane)
            lane.add_done_callback(self._lanes.discard)

    async def _lane(self) -> None:
        while group := self._next_group():
            await self._store_and_answer(group)

    def _next_group(self) -> list[_Send]:
        group: list[_Send] = []
        while self._queue and len(group) < MAX_GROUP:
            pending = self._queue.popleft()
            if not pending.answer.done():  # not cancelled while it waited
                group.append(pending)
        return group

    async def _store_and_answer(self, group: list[_Send]) -> None:
        try:
            outcomes = await self._store(group)
        except _RetryAlone:
            for pending in group:
                await self._store_and_answer([pending])
            return
        except Exception as error:  # the driver's or the database's: every send of it failed
            for pending in group:
                pending.settle(error)
            return
        except BaseException:  # the lane itself is cancelled (the loop is closing)
            for pending in group:
                pending.settle(_interrupted())
            raise
        # Stored now or replayed: a replay's first event may have died with its process.
        stored = [
            Event(EventKind.MESSAGE_ADDED, outcome[0].chat_id, {"message": outcome[0].to_json()})
            for outcome in outcomes
            if isinstance(outcome, tuple)
        ]
        try:
            await publish_events(self._broker, stored)
        finally:  # stored is stored: answer even if the lane is cancelled while publishing
            for pending, outcome in zip(group, outcomes, strict=True):
                pending.settle(outcome)

    async def _store(self, group: list[_Send]) -> list[Outcome]:
        """One transaction for the group; an outcome per send, in the group's order."""
        pooled = await self._engine.raw_connection()
        self.transactions += 1
        try:
            transaction = self._transaction(pooled.driver_connection, self._dialect)
            try:
                outcomes, committed = await self._write(transaction, group)
            except _RetryAlone:
                await transaction.rollback()
                raise
            if not committed:  # refusals and replays only: nothing to keep
                await transaction.rollback()
        except _RetryAlone:
            await greenlet_spawn(pooled.close)
            raise
        except BaseException as error:  # incl. cancellation: the protocol state is unknown
            # Not reused: invalidate() closes the driver connection at once (no awaiting), and
            # the server rolls back what it left open.
            pooled.invalidate(error if isinstance(error, Exception) else None)
            pooled.close()
            raise
        await greenlet_spawn(pooled.close)  # no reset on return: the transaction has ended
        return outcomes

    async def _write(
        self, transaction: _Transaction, group: list[_Send]
    ) -> tuple[list[Outcome], bool]:
        """(an outcome per send, whether the transaction committed)."""
        chat_ids = sorted({pending.chat_id for pending in group})
        user_ids = sorted({pending.sender_id for pending in group})
        chats, memberships = await transaction.begin_and_lock(chat_ids, user_ids)
        existing = {row[0] for row in chats}
        members = {(row[0], row[1]) for row in memberships}
        refusals: dict[int, ApiError] = {}  # by index in the group
        accepted: list[_Send] = []
        for index, pending in enumerate(group):
            if pending.chat_id not in existing:
                refusals[index] = chat_not_found()
            elif (pending.chat_id, pending.sender_id) not in members:
                refusals[index] = not_a_member()
            else:
                accepted.append(pending)
        if not accepted:
            return list(refusals.values()), False
        now = utc_now()  # under the locks: a chat's messages are dated in id order
        at = stored_datetime(now)
        rows = [(p.chat_id, p.sender_id, p.text, p.client_id, at) for p in accepted]
        written = sorted({pending.chat_id for pending in accepted})
        try:
            ids = iter(await transaction.store_and_commit(rows, at, written))
        except self._integrity_error:
            # A client_id sent before (a retry) or concurrently (the unique index decided).
            if len(group) > 1:
                raise _RetryAlone from None
            (pending,) = group
            if pending.client_id is None:
                raise
            stored = await transaction.fetch(self._stored, (pending.sender_id, pending.client_id))
            if not stored:
                raise
            return [self._replayed(pending, stored[0])], False
        outcomes: list[Outcome] = []
        for index, pending in enumerate(group):
            if index in refusals:
                outcomes.append(refusals[index])
                continue
            view = MessageView(
                next(ids),
                pending.chat_id,
                pending.sender_id,
                pending.sender_nickname,
                pending.text,
                now,
                pending.client_id,
            )
            outcomes.append((view, True))
        return outcomes, True

    @staticmethod
    def _replayed(pending: _Send, stored: Row) -> Outcome:
        id_, chat_id, sender_id, nickname, text, created_at, client_id = stored
        if chat_id != pending.chat_id:
            return client_id_used_elsewhere()
        view = MessageView(id_, chat_id, sender_id, nickname, text, utc(created_at), client_id)
        return view, False
