"""The send path: checks, `store_group` (the SQL that stores a group of sends in one
transaction, on the database driver), and `Sender`, which feeds it groups from a group commit
(chat_service.group_commit: the batching, apart from the SQL).

Sends run on the driver itself (asyncmy for MySQL/MariaDB, aiosqlite for SQLite) on a
connection of the autocommit engine (no implicit transaction, no reset on return): the
transaction is explicit. Measured against SQLAlchemy Core on the same path (the rest of
chat_service is Core), the driver sends 2-3x as many messages a second: a group's statements go
to MySQL in two round trips (statements joined by ";", asyncmy's multi-statements), and the chat
row lock is held across one of them, not four.

`store_group(transaction, sends)`:

1. BEGIN (SQLite: BEGIN IMMEDIATE, its write lock before anything is read); the row locks of
   its chats, in id order (no deadlock between lanes or processes), with `SELECT ... FOR UPDATE`
   as access.lock_chats takes them: every membership change of those chats waits for this
   transaction or is seen by it; the members of those chats (a locking read on MySQL: the
   latest, not a snapshot), which are the events' recipients. A chat without a row does not
   exist (404); a sender who is not a member is refused (403).
2. One INSERT per accepted send, all dated once under the locks (a chat's messages are dated in
   id order); each chat's newest message and activity time; COMMIT. If nothing is accepted:
   ROLLBACK. A client_id already used fails on the unique index (sender_id, client_id) and
   stops the statements after it: a send that is alone replays the stored message, read with a
   locking read (rows committed after this transaction's snapshot), or gets 409 if it went to
   another chat; in a group, `RetryAlone` asks for each of its sends to be stored alone.

The messages' search rows are not written here: after the COMMIT the Sender hands the new ids
to the search indexer (chat_service/indexing.py), which writes them in batches of its own.

`Sender` publishes the message_added events (addressed to the chats' members as of the
COMMIT) after the COMMIT, in id order, each chat's after the groups that locked it earlier
(chat_service.publish_order), before the senders get their answers; refusals publish nothing.
A replay publishes its stored message again: the process that stored it may have died between
the COMMIT and the publish (the sender saw no answer and retried), and its subscribers would
never hear of it; those that did already drop it by id (gateway/catchup.py's SeenIds). A
connection that failed or was cancelled mid-transaction is invalidated (closed; the server
undoes its open transaction), never reused.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from chat_service.access import chat_not_found, not_a_member
from chat_service.group_commit import GroupCommit
from chat_service.history import message_view
from chat_service.indexing import SearchIndexer
from chat_service.pooled import driver_connection
from chat_service.publish_order import PublishOrder, Ticket
from chat_service.unit_of_work import publish_events
from chat_service.validation import check_trimmed_text
from chat_service.views import MessageView, Quote
from mychat.broker import Broker
from mychat.db import utc_now
from mychat.events import Event, EventKind
from mychat.http import ApiError, RateLimited
from mychat.ratelimit import RateLimiter
from mychat.tables import MESSAGE_TEXT_MAX

Row = tuple[Any, ...]

# Transactions in flight per process: few enough that, under load, each carries many sends;
# more than one, so that a lane waiting for a row lock held by another transaction (a leave, an
# add) does not hold up the other chats' sends. Only if every lane waits so does everything wait.
LANES = 4
# Sends per transaction: bounds its lock time and its packet (a text is at most 4,000 chars).
MAX_GROUP = 64

# chat_id, sender_id, text, client_id, created_at, reply_to_id
INSERT = """
INSERT INTO messages (chat_id, sender_id, text, client_id, created_at, reply_to_id)
VALUES (?, ?, ?, ?, ?, ?)
"""
# sender_id, client_id
STORED_BY_CLIENT_ID = """
SELECT m.id, m.chat_id, m.sender_id, u.nickname, m.text, CAST(m.created_at AS CHAR), m.client_id,
       CAST(m.edited_at AS CHAR), CAST(m.deleted_at AS CHAR), m.reply_to_id,
       m.kind
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
def memberships_sql(dialect: Dialect, chats: int) -> str:
    """chat ids -> (chat_id, user_id) of each of their members."""
    where = f"WHERE chat_id IN ({_marks(chats)})"
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


class Transaction:
    """One transaction's round trips on one driver connection; what differs between drivers."""

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        self._connection = connection
        self._dialect = dialect

    async def begin_and_lock(self, chat_ids: Sequence[int]) -> tuple[Sequence[Row], Sequence[Row]]:
        """BEGIN, lock the chats; (existing chat ids, their memberships) as rows."""
        raise NotImplementedError

    async def store_and_commit(
        self, rows: Sequence[Sequence[Any]], at: str, chat_ids: Sequence[int]
    ) -> list[int]:
        """Insert the messages, move their chats forward, COMMIT; the new ids in order.

        An IntegrityError leaves the transaction open, with the inserts before it done."""
        raise NotImplementedError

    async def fetch(self, sql: str, args: Sequence[Any]) -> Sequence[Row]:
        raise NotImplementedError

    async def stored(self, send: Send) -> Sequence[Row]:
        """The message stored with this send's client_id (a locking read on MySQL: it sees rows
        committed after this transaction's snapshot; shared, as the failed INSERT already holds
        a shared lock on that index entry)."""
        locking = self._dialect.locking("LOCK IN SHARE MODE")
        return await self.fetch(
            self._dialect.sql(STORED_BY_CLIENT_ID + locking), (send.sender_id, send.client_id)
        )

    async def rollback(self) -> None:
        raise NotImplementedError


class _Asyncmy(Transaction):
    """Each step in one round trip: statements joined by ";", their results read in turn."""

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        super().__init__(connection, dialect)
        self._cursor = connection.cursor()

    async def _results(self, statements: Sequence[str], args: Sequence[Any]) -> None:
        await self._cursor.execute(";".join(statements), args)

    async def begin_and_lock(self, chat_ids: Sequence[int]) -> tuple[Sequence[Row], Sequence[Row]]:
        lock = lock_chats_sql(self._dialect, len(chat_ids))
        members = memberships_sql(self._dialect, len(chat_ids))
        await self._results(["BEGIN", lock, members], [*chat_ids, *chat_ids])
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
        statements = [insert] * len(rows) + [bump, "COMMIT"]
        await self._results(statements, [*args, at, *chat_ids])
        ids = [self._cursor.lastrowid]
        while len(ids) < len(rows):
            await self._cursor.nextset()  # raises the error of a failed statement
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


class _Aiosqlite(Transaction):
    # isolation_level None (autocommit): no implicit BEGIN of pysqlite's own. Each statement is
    # one hop to the connection's thread; no network in between.

    async def begin_and_lock(self, chat_ids: Sequence[int]) -> tuple[Sequence[Row], Sequence[Row]]:
        await self._connection.execute("BEGIN IMMEDIATE")
        lock = lock_chats_sql(self._dialect, len(chat_ids))
        members = memberships_sql(self._dialect, len(chat_ids))
        chats = await self.fetch(lock, chat_ids)
        return chats, await self.fetch(members, chat_ids)

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


_TRANSACTIONS: dict[str, type[Transaction]] = {"mysql": _Asyncmy, "sqlite": _Aiosqlite}


def check_message_text(text: str) -> str:
    return check_trimmed_text(text, field="text", label="Message text", max_length=MESSAGE_TEXT_MAX)


def check_client_id(client_id: str | None) -> str | None:
    """A client-made UUID, stored in its canonical lower-case form so retries match."""
    if client_id is None:
        return None
    try:
        return str(uuid.UUID(client_id))
    except ValueError as error:
        raise ApiError(
            400, "validation_error", "client_id must be a UUID", field="client_id"
        ) from error


def check_send_rate(limiter: RateLimiter, user_id: int) -> None:
    retry_after = limiter.retry_after(str(user_id))
    if retry_after > 0:
        raise RateLimited("Too many messages; slow down", retry_after)


def client_id_used_elsewhere() -> ApiError:
    return ApiError(
        409,
        "conflict",
        "This client_id was already used for a message in another chat",
        field="client_id",
    )


def _interrupted() -> ApiError:
    return ApiError(503, "unavailable", "The send was interrupted; try again")


@dataclass(frozen=True, slots=True)
class Send:
    """One checked send (text trimmed, client_id canonical)."""

    chat_id: int
    sender_id: int
    sender_nickname: str  # from the verified token (nicknames never change)
    text: str
    client_id: str | None
    reply_to: Quote | None = None  # the message it answers (checked: same chat)


# A send's answer: (the message, whether this send stored it) or why not (a refusal, or the
# error that failed it).
Outcome = tuple[MessageView, bool] | Exception


# The members of each chat a group wrote to, as of its COMMIT: the events' recipients.
Recipients = dict[int, frozenset[int]]


class RetryAlone(Exception):
    """A client_id conflict in a group: roll the group back and store each of its sends alone."""


async def store_group(
    transaction: Transaction,
    sends: Sequence[Send],
    integrity_error: type[Exception],
    on_locked: Callable[[Sequence[int]], None] = lambda chat_ids: None,
) -> tuple[list[Outcome], bool, Recipients]:
    """Store a group of sends in one transaction (see the module docstring); (an outcome per
    send, in order, whether the transaction committed, the members of its chats). Not
    committed: the caller rolls back. `on_locked(chat_ids)` runs as soon as the chats' locks
    are held (before any other await: so in each chat's commit order)."""
    chat_ids = sorted({send.chat_id for send in sends})
    chats, memberships = await transaction.begin_and_lock(chat_ids)
    on_locked([row[0] for row in chats])
    existing = {row[0] for row in chats}
    members = {(row[0], row[1]) for row in memberships}
    by_chat: dict[int, set[int]] = {}
    for chat_id, user_id in members:
        by_chat.setdefault(chat_id, set()).add(user_id)
    recipients = {chat_id: frozenset(users) for chat_id, users in by_chat.items()}
    refusals: dict[int, Exception] = {}  # by index in the group
    accepted: list[Send] = []
    for index, send in enumerate(sends):
        if send.chat_id not in existing:
            refusals[index] = chat_not_found()
        elif (send.chat_id, send.sender_id) not in members:
            refusals[index] = not_a_member()
        else:
            accepted.append(send)
    if not accepted:
        return list(refusals.values()), False, recipients
    now = utc_now()  # under the locks: a chat's messages are dated in id order
    at = stored_datetime(now)
    rows = [
        (
            s.chat_id,
            s.sender_id,
            s.text,
            s.client_id,
            at,
            None if s.reply_to is None else s.reply_to.id,
        )
        for s in accepted
    ]
    written = sorted({send.chat_id for send in accepted})
    try:
        ids = iter(await transaction.store_and_commit(rows, at, written))
    except integrity_error:
        # A client_id sent before (a retry) or concurrently (the unique index decided).
        if len(sends) > 1:
            raise RetryAlone from None
        (send,) = sends
        stored = None if send.client_id is None else await transaction.stored(send)
        if not stored:
            raise
        return [_replayed(send, stored[0])], False, recipients
    outcomes: list[Outcome] = []
    for index, send in enumerate(sends):
        if index in refusals:
            outcomes.append(refusals[index])
            continue
        message = MessageView(
            next(ids),
            send.chat_id,
            send.sender_id,
            send.sender_nickname,
            send.text,
            now,
            send.client_id,
            reply_to_id=None if send.reply_to is None else send.reply_to.id,
            reply_to=send.reply_to,
        )
        outcomes.append((message, True))
    return outcomes, True, recipients


def _replayed(send: Send, stored: Row) -> Outcome:
    message = message_view(stored)
    if message.chat_id != send.chat_id:
        return client_id_used_elsewhere()
    return message, False


class Sender:
    """Stores sends through a group commit, each group in one transaction on a driver connection
    of `engine` (an autocommit engine: mychat.db.create_autocommit_engine); hands the messages
    it stored to `indexer` after each COMMIT."""

    def __init__(self, engine: AsyncEngine, broker: Broker, indexer: SearchIndexer) -> None:
        self._engine = engine
        self._broker = broker
        self._indexer = indexer
        self._dialect = Dialect(mysql=engine.dialect.name == "mysql")
        self._transaction = _TRANSACTIONS[engine.dialect.name]
        self._integrity_error: type[Exception] = engine.dialect.loaded_dbapi.IntegrityError
        self.queue: GroupCommit[Send, tuple[MessageView, bool]] = GroupCommit(
            self._store, lanes=LANES, max_group=MAX_GROUP, interrupted=_interrupted, name="sends"
        )
        self.transactions = 0  # begun so far (tests check that sends share them)
        self._order: PublishOrder[Event] = PublishOrder(self._publish)

    async def send(
        self,
        chat_id: int,
        sender_id: int,
        sender_nickname: str,
        text: str,
        client_id: str | None,
        reply_to: Quote | None = None,
    ) -> tuple[MessageView, bool]:
        """Store a message and publish it; (message, created). A repeated client_id returns the
        stored message (created False) and publishes it again. `reply_to`: the quote of the
        message it answers, already checked to be in the chat (chat_service.replies)."""
        send = Send(
            chat_id,
            sender_id,
            sender_nickname,
            check_message_text(text),
            check_client_id(client_id),
            reply_to,
        )
        message, created = await self.queue.submit(send)
        if reply_to is not None and message.reply_to is None:  # a replay of a stored reply
            message = message.with_reply_to(reply_to)
        return message, created  # an Exception outcome is raised here

    async def close(self) -> None:
        """Wait for the transactions in flight (the callers of their sends are waiting too)."""
        await self.queue.close()

    async def _store(self, sends: list[Send]) -> list[Outcome]:
        try:
            return await self._in_transaction(sends)
        except RetryAlone:
            return [await self._alone(send) for send in sends]

    async def _alone(self, send: Send) -> Outcome:
        try:
            (outcome,) = await self._in_transaction([send])
        except Exception as error:  # the driver's or the database's: this send failed
            return error
        return outcome

    async def _publish(self, events: list[Event]) -> None:
        await publish_events(self._broker, events)  # logs a failure, never raises

    async def _in_transaction(self, sends: list[Send]) -> list[Outcome]:
        """Store the group, then publish its events in each chat's order (publish_order)."""
        tickets: list[Ticket] = []
        try:
            outcomes, recipients = await self._commit(sends, tickets)
            # Stored now (a replay's message was handed over when it was stored).
            stored = [o[0] for o in outcomes if isinstance(o, tuple) and o[1]]
            self._indexer.add([(m.id, m.chat_id, m.text) for m in stored])
            created = [
                Event(
                    EventKind.MESSAGE_ADDED,
                    outcome[0].chat_id,
                    {"message": outcome[0].to_json()},
                    recipients.get(outcome[0].chat_id, frozenset()),
                )
                for outcome in outcomes
                # Stored now or replayed: a replay's first event may have died with its process.
                if isinstance(outcome, tuple)
            ]
            if created:
                await self._order.publish(tickets[0], created)
            return outcomes
        finally:
            for ticket in tickets:
                self._order.release(ticket)

    async def _commit(
        self, sends: list[Send], tickets: list[Ticket]
    ) -> tuple[list[Outcome], Recipients]:
        # RetryAlone: the group rolled back, so the connection is fine to reuse.
        async with driver_connection(self._engine, reusable_after=(RetryAlone,)) as connection:
            self.transactions += 1
            transaction = self._transaction(connection, self._dialect)
            try:
                outcomes, committed, recipients = await store_group(
                    transaction,
                    sends,
                    self._integrity_error,
                    on_locked=lambda chat_ids: tickets.append(self._order.take(chat_ids)),
                )
            except RetryAlone:
                await transaction.rollback()
                raise
            if not committed:  # refusals and replays only: nothing to keep
                await transaction.rollback()
        return outcomes, recipients
