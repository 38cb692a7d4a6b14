"""The hot reads (a chat's history page, a chat row) on the database driver itself.

Through SQLAlchemy's async layer one 50-message page costs several times the CPU of the
driver call it wraps (statement execution in a greenlet, result processing per row), and a
pooled connection is rolled back when it goes back. These reads run one SQL statement each with
asyncmy (MySQL/MariaDB) or aiosqlite (SQLite) on a connection of the read engine
(mychat.db.create_read_engine: autocommit, no reset on return). One statement sees one
consistent snapshot. The SQL is written here once, with `?` placeholders (aiosqlite's
paramstyle; asyncmy's `%s` is put in for MySQL).

Membership is part of every statement: no row comes back unless the caller is a member. An
empty answer is then told apart by `check_access`: 404 unknown chat, 403 not a member (as
access_chat_for_user answers), or truly empty.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util.concurrency import greenlet_spawn

from chat_service.access import chat_not_found, not_a_member
from chat_service.views import ChatRow, MessageView

Row = tuple[Any, ...]

# Only `messages` in FROM, so the plan is always the (chat_id, id) index in page order; the
# nickname is a primary-key lookup per row and the membership test runs once. As joins,
# MariaDB could start from the sender instead and sort all their messages in every chat.
_PAGE = """
SELECT m.id, m.chat_id, m.sender_id,
       (SELECT u.nickname FROM users u WHERE u.id = m.sender_id),
       m.text, CAST(m.created_at AS CHAR), m.client_id
FROM messages m
WHERE EXISTS (SELECT 1 FROM chat_members cm WHERE cm.chat_id = ? AND cm.user_id = ?)
  AND m.chat_id = ? {bound}
ORDER BY m.id {order} LIMIT ?
"""
# chat_id, user_id, chat_id, [after | before], limit
NEWEST = _PAGE.format(bound="", order="DESC")
BEFORE = _PAGE.format(bound="AND m.id < ?", order="DESC")
AFTER = _PAGE.format(bound="AND m.id > ?", order="ASC")

# user_id, chat_id: one row if the chat exists, its user_id NULL unless a member
ACCESS = """
SELECT cm.user_id
FROM chats c
LEFT JOIN chat_members cm ON cm.chat_id = c.id AND cm.user_id = ?
WHERE c.id = ?
"""

# user_id, chat_id
CHAT = """
SELECT c.id, c.name, CAST(c.created_at AS CHAR), c.created_by,
       CAST(c.last_activity_at AS CHAR), c.last_message_id, cm.role
FROM chats c
JOIN chat_members cm ON cm.chat_id = c.id AND cm.user_id = ?
WHERE c.id = ?
"""


async def _fetch_asyncmy(connection: Any, sql: str, args: Sequence[Any]) -> Sequence[Row]:
    async with connection.cursor() as cursor:
        await cursor.execute(sql, args)
        rows: Sequence[Row] = await cursor.fetchall()
        return rows


async def _fetch_aiosqlite(connection: Any, sql: str, args: Sequence[Any]) -> Sequence[Row]:
    rows: Sequence[Row] = await connection.execute_fetchall(sql, args)  # one thread hop
    return rows


def utc(stored: str) -> datetime:
    """A stored UTC datetime, read as text ("YYYY-MM-DD HH:MM:SS.ffffff" in both databases).

    Parsing the text with its offset costs a tenth of a naive datetime's `.replace(tzinfo=UTC)`.
    """
    return datetime.fromisoformat(stored + "+00:00")


@dataclass(frozen=True, slots=True)
class _Driver:
    """What differs between the two drivers: placeholders and the fetch call."""

    placeholder: str
    fetch: Callable[[Any, str, Sequence[Any]], Awaitable[Sequence[Row]]]


_DRIVERS = {"mysql": _Driver("%s", _fetch_asyncmy), "sqlite": _Driver("?", _fetch_aiosqlite)}


class FastReads:
    """Single-statement reads on the driver connections of a read engine (owned by the caller)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._driver = _DRIVERS[engine.dialect.name]
        self._sql: dict[str, str] = {}

    def _prepared(self, sql: str) -> str:
        prepared = self._sql.get(sql)
        if prepared is None:
            prepared = self._sql[sql] = sql.replace("?", self._driver.placeholder)
        return prepared

    async def _rows(self, sql: str, *args: Any) -> Sequence[Row]:
        pooled = await self._engine.raw_connection()
        try:
            rows = await self._driver.fetch(pooled.driver_connection, self._prepared(sql), args)
        except BaseException as error:  # incl. cancellation: the protocol state is unknown
            # Not reused: invalidate() closes the driver connection at once (no awaiting).
            pooled.invalidate(error if isinstance(error, Exception) else None)
            pooled.close()
            raise
        # No reset on return (nothing to roll back); an overflow connection is closed, which
        # awaits the driver, hence the greenlet.
        await greenlet_spawn(pooled.close)
        return rows

    async def message_page(
        self, chat_id: int, user_id: int, *, limit: int, before: int | None, after: int | None
    ) -> list[MessageView]:
        """Up to `limit` messages in the order of the statement: ascending after `after`,
        else descending (newest first) before `before` or from the newest."""
        if after is not None:
            rows = await self._rows(AFTER, chat_id, user_id, chat_id, after, limit)
        elif before is not None:
            rows = await self._rows(BEFORE, chat_id, user_id, chat_id, before, limit)
        else:
            rows = await self._rows(NEWEST, chat_id, user_id, chat_id, limit)
        return [
            MessageView(id_, chat, sender, nickname, text, utc(at), client_id)
            for id_, chat, sender, nickname, text, at, client_id in rows
        ]

    async def chat_with_role(self, chat_id: int, user_id: int) -> tuple[ChatRow, str] | None:
        """The chat and the caller's role in it; None if unknown or not a member."""
        rows = await self._rows(CHAT, user_id, chat_id)
        if not rows:
            return None
        id_, name, created_at, created_by, last_activity_at, last_message_id, role = rows[0]
        chat = ChatRow(
            id_, name, utc(created_at), created_by, utc(last_activity_at), last_message_id
        )
        return chat, role

    async def check_access(self, chat_id: int, user_id: int) -> None:
        """404 for an unknown chat, 403 for a non-member, else nothing."""
        rows = await self._rows(ACCESS, user_id, chat_id)
        if not rows:
            raise chat_not_found()
        if rows[0][0] is None:
            raise not_a_member()
