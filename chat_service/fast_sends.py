"""Sending a message on the database driver itself, as chat_service.fast_reads reads.

Through SQLAlchemy's session a send paid a greenlet hop and result processing per statement and
a ROLLBACK when its connection went back to the pool, several times the driver's own CPU. Here
the send's statements run with asyncmy (MySQL/MariaDB) or aiosqlite (SQLite) on one connection
of the read engine (autocommit, no reset on return), in one explicit transaction:

1. BEGIN (SQLite: BEGIN IMMEDIATE, its write lock before anything is read);
2. the chat's row lock, taken only if the sender is a member (one UPDATE for both; the chat
   row first, as access_chat_for_user(lock=True) does: no FK shared-lock deadlocks between
   concurrent senders); no row matched is told apart as 404 or 403 by fast_reads.ACCESS;
3. the INSERT; a repeated client_id fails on the unique index (sender_id, client_id), the
   failed statement alone is undone, and the stored message is read back with a locking read
   (MySQL: rows committed after this transaction's snapshot) and replayed, or 409 if it was
   sent to another chat;
4. last_message_id and last_activity_at moved forward; COMMIT.

The message_added event is published only after the COMMIT; an answer without a write (a
refusal, a replay) rolls back and publishes nothing. A connection that failed or was cancelled
mid-send is invalidated (closed; the server undoes its open transaction), never reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util.concurrency import greenlet_spawn

from chat_service.access import chat_not_found, not_a_member
from chat_service.fast_reads import ACCESS, utc
from chat_service.messages import check_client_id, check_message_text, client_id_used_elsewhere
from chat_service.unit_of_work import publish_events
from chat_service.views import MessageView
from mychat.broker import Broker
from mychat.db import utc_now
from mychat.events import Event, EventKind
from mychat.http import ApiError

Row = tuple[Any, ...]

# chat_id, chat_id, user_id: one row matched exactly when the chat exists and the user is in it
LOCK_IF_MEMBER = """
UPDATE chats SET last_activity_at = last_activity_at
WHERE id = ? AND EXISTS (SELECT 1 FROM chat_members cm WHERE cm.chat_id = ? AND cm.user_id = ?)
"""
# chat_id, sender_id, text, client_id, created_at
INSERT = """
INSERT INTO messages (chat_id, sender_id, text, client_id, created_at) VALUES (?, ?, ?, ?, ?)
"""
# message_id, at, chat_id, message_id
BUMP_LAST_MESSAGE = """
UPDATE chats SET last_message_id = ?, last_activity_at = ?
WHERE id = ? AND (last_message_id IS NULL OR last_message_id < ?)
"""
# sender_id, client_id
STORED_BY_CLIENT_ID = """
SELECT m.id, m.chat_id, m.sender_id, u.nickname, m.text, CAST(m.created_at AS CHAR), m.client_id
FROM messages m JOIN users u ON u.id = m.sender_id
WHERE m.sender_id = ? AND m.client_id = ?
"""


def stored_datetime(moment: datetime) -> str:
    """A UTC datetime as both databases store it (SQLAlchemy's SQLite format, always 6 digits)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


class _Transaction:
    """One transaction's statements on one driver connection; what differs between drivers."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def begin(self) -> None:
        raise NotImplementedError

    async def execute(self, sql: str, args: Sequence[Any]) -> tuple[int, int | None]:
        """(rows matched, last inserted id)."""
        raise NotImplementedError

    async def fetch(self, sql: str, args: Sequence[Any]) -> Sequence[Row]:
        raise NotImplementedError

    async def commit(self) -> None:
        raise NotImplementedError

    async def rollback(self) -> None:
        raise NotImplementedError


class _Asyncmy(_Transaction):
    # The read engine's connections have autocommit on; BEGIN opens a transaction explicitly.
    # SQLAlchemy connects with CLIENT.FOUND_ROWS: rowcount counts matched rows.

    def __init__(self, connection: Any) -> None:
        super().__init__(connection)
        self._cursor = connection.cursor()

    async def begin(self) -> None:
        await self._connection.begin()

    async def execute(self, sql: str, args: Sequence[Any]) -> tuple[int, int | None]:
        await self._cursor.execute(sql, args)
        return self._cursor.rowcount, self._cursor.lastrowid

    async def fetch(self, sql: str, args: Sequence[Any]) -> Sequence[Row]:
        await self._cursor.execute(sql, args)
        rows: Sequence[Row] = await self._cursor.fetchall()
        return rows

    async def commit(self) -> None:
        await self._connection.commit()

    async def rollback(self) -> None:
        await self._connection.rollback()


class _Aiosqlite(_Transaction):
    # isolation_level None (autocommit): no implicit BEGIN of pysqlite's own.

    async def begin(self) -> None:
        await self._connection.execute("BEGIN IMMEDIATE")

    async def execute(self, sql: str, args: Sequence[Any]) -> tuple[int, int | None]:
        cursor = await self._connection.execute(sql, args)  # one thread hop; no close (another)
        return cursor.rowcount, cursor.lastrowid

    async def fetch(self, sql: str, args: Sequence[Any]) -> Sequence[Row]:
        rows: Sequence[Row] = await self._connection.execute_fetchall(sql, args)
        return rows

    async def commit(self) -> None:
        await self._connection.execute("COMMIT")

    async def rollback(self) -> None:
        await self._connection.execute("ROLLBACK")


_TRANSACTIONS: dict[str, type[_Transaction]] = {"mysql": _Asyncmy, "sqlite": _Aiosqlite}


class _Refused(Exception):
    """Nothing written: roll back, then answer the stored message (a replay) or raise the error."""

    def __init__(self, outcome: MessageView | ApiError) -> None:
        self.outcome = outcome


class FastSends:
    """Sends on the driver connections of a read engine (owned by the caller)."""

    def __init__(self, engine: AsyncEngine, broker: Broker) -> None:
        self._engine = engine
        self._broker = broker
        dialect = engine.dialect.name
        self._transaction = _TRANSACTIONS[dialect]
        self._integrity_error: type[Exception] = engine.dialect.loaded_dbapi.IntegrityError
        placeholder = "%s" if dialect == "mysql" else "?"
        # A locking read sees rows committed after this transaction's snapshot (InnoDB); shared,
        # as the failed INSERT already holds a shared lock on that index entry. SQLite's write
        # lock is the database's: nothing newer can exist.
        latest = STORED_BY_CLIENT_ID + (" LOCK IN SHARE MODE" if dialect == "mysql" else "")
        self._lock, self._insert, self._bump, self._access, self._stored = (
            sql.replace("?", placeholder)
            for sql in (LOCK_IF_MEMBER, INSERT, BUMP_LAST_MESSAGE, ACCESS, latest)
        )

    async def send(
        self, chat_id: int, sender_id: int, sender_nickname: str, text: str, client_id: str | None
    ) -> tuple[MessageView, bool]:
        """Store a message and publish it; (message, created). A repeated client_id returns the
        stored message (created False), nothing published."""
        text = check_message_text(text)
        client_id = check_client_id(client_id)
        pooled = await self._engine.raw_connection()
        try:
            transaction = self._transaction(pooled.driver_connection)
            await transaction.begin()
            try:
                message_id, now = await self._write(
                    transaction, chat_id, sender_id, text, client_id
                )
            except _Refused:
                await transaction.rollback()
                raise
            await transaction.commit()
        except _Refused as refused:
            await greenlet_spawn(pooled.close)
            if isinstance(refused.outcome, ApiError):
                raise refused.outcome from None
            return refused.outcome, False
        except BaseException as error:  # incl. cancellation: the protocol state is unknown
            # Not reused: invalidate() closes the driver connection at once (no awaiting), and
            # the server rolls back what it left open.
            pooled.invalidate(error if isinstance(error, Exception) else None)
            pooled.close()
            raise
        await greenlet_spawn(pooled.close)  # no reset on return: the transaction has ended
        view = MessageView(message_id, chat_id, sender_id, sender_nickname, text, now, client_id)
        await publish_events(
            self._broker, [Event(EventKind.MESSAGE_ADDED, chat_id, {"message": view.to_json()})]
        )
        return view, True

    async def _write(
        self,
        transaction: _Transaction,
        chat_id: int,
        sender_id: int,
        text: str,
        client_id: str | None,
    ) -> tuple[int, datetime]:
        matched, _ = await transaction.execute(self._lock, (chat_id, chat_id, sender_id))
        if matched != 1:
            rows = await transaction.fetch(self._access, (sender_id, chat_id))
            raise _Refused(chat_not_found() if not rows else not_a_member())
        now = utc_now()  # under the lock: a chat's messages are dated in id order
        at = stored_datetime(now)
        try:
            _, message_id = await transaction.execute(
                self._insert, (chat_id, sender_id, text, client_id, at)
            )
        except self._integrity_error:
            # A client_id sent before (a retry) or concurrently (the unique index decided).
            if client_id is None:
                raise
            rows = await transaction.fetch(self._stored, (sender_id, client_id))
            if not rows:
                raise
            id_, stored_chat, sender, nickname, stored_text, created_at, stored_client = rows[0]
            if stored_chat != chat_id:
                raise _Refused(client_id_used_elsewhere()) from None
            stored = MessageView(
                id_, stored_chat, sender, nickname, stored_text, utc(created_at), stored_client
            )
            raise _Refused(stored) from None
        assert message_id is not None, "an INSERT of one row has its id"
        await transaction.execute(self._bump, (message_id, at, chat_id, message_id))
        return message_id, now
