"""The hottest read, a chat's history page, on the database driver itself.

Through SQLAlchemy Core one 50-message page costs several times the CPU of the driver call it
wraps (statement execution in a greenlet, result processing per row): measured in `make bench`,
REST history on Core answered ~35% fewer requests a second than on the driver. So this one
statement runs with asyncmy (MySQL/MariaDB) or aiosqlite (SQLite) on the driver connection
under the request's autocommit connection (mychat.db.create_autocommit_engine); every other
read is Core. One statement sees one consistent snapshot. The SQL is written here once, with
`?` placeholders (aiosqlite's paramstyle; asyncmy's `%s` is put in for MySQL).

Membership is part of the statement: no row comes back unless the caller is a member. An empty
answer is then told apart by access.check_access: 404 unknown chat, 403 not a member, or truly
empty.

The seed's REST history (`seed_page`) reads only the seed's columns, on a pooled driver
connection checked out of the engine with no AsyncConnection around it (`engine_rows`):
measured under callgrind, the AsyncConnection, the extra columns and the quotes pass cost a REST
history request ~25% more instructions than this (bench/PROFILE.md, "Issue 11's last rule").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chat_service.loop_reads import LoopReader
from chat_service.pooled import driver_connection
from chat_service.views import MessageView
from mychat.loop_sqlite import DRIVER as LOOP_THREAD_DRIVER

Row = tuple[Any, ...]

# Only `messages` in FROM, so the plan is always the (chat_id, id) index in page order; the
# nickname is a primary-key lookup per row and the membership test runs once. As joins,
# MariaDB could start from the sender instead and sort all their messages in every chat.
_PAGE = """
SELECT m.id, m.chat_id, m.sender_id,
       (SELECT u.nickname FROM users u WHERE u.id = m.sender_id),
       m.text, CAST(m.created_at AS CHAR), m.client_id,
       CAST(m.edited_at AS CHAR), CAST(m.deleted_at AS CHAR), m.reply_to_id, m.kind
FROM messages m
WHERE EXISTS (SELECT 1 FROM chat_members cm WHERE cm.chat_id = ? AND cm.user_id = ?)
  AND m.chat_id = ? {bound}
ORDER BY m.id {order} LIMIT ?
"""
# chat_id, user_id, chat_id, [after | before], limit
NEWEST = _PAGE.format(bound="", order="DESC")
BEFORE = _PAGE.format(bound="AND m.id < ?", order="DESC")
AFTER = _PAGE.format(bound="AND m.id > ?", order="ASC")

# The seed's REST history: what people wrote, without system lines, in the seed's fields only
# (mychat/openapi.json). A deleted message's text is "" in the table; the seed shows no quote,
# edit time or kind, so none is read.
_SEED_PAGE = """
SELECT m.id, m.chat_id, m.sender_id,
       (SELECT u.nickname FROM users u WHERE u.id = m.sender_id),
       m.text, CAST(m.created_at AS CHAR), m.client_id
FROM messages m
WHERE EXISTS (SELECT 1 FROM chat_members cm WHERE cm.chat_id = ? AND cm.user_id = ?)
  AND m.chat_id = ? {bound} AND m.kind IS NULL
ORDER BY m.id DESC LIMIT ?
"""
# chat_id, user_id, chat_id, [before], limit
SEED_NEWEST = _SEED_PAGE.format(bound="")
SEED_BEFORE = _SEED_PAGE.format(bound="AND m.id < ?")


async def _fetch_asyncmy(connection: Any, sql: str, args: Sequence[Any]) -> Sequence[Row]:
    async with connection.cursor() as cursor:
        await cursor.execute(sql, args)
        rows: Sequence[Row] = await cursor.fetchall()
        return rows


async def _fetch_aiosqlite(connection: Any, sql: str, args: Sequence[Any]) -> Sequence[Row]:
    rows: Sequence[Row] = await connection.execute_fetchall(sql, args)  # one thread hop
    return rows


async def _fetch_sqlite3(connection: Any, sql: str, args: Sequence[Any]) -> Sequence[Row]:
    rows: Sequence[Row] = connection.execute(sql, args).fetchall()  # in the loop's thread
    return rows


def utc(stored: str) -> datetime:
    """A stored UTC datetime, read as text ("YYYY-MM-DD HH:MM:SS.ffffff" in both databases).

    Parsing the text with its offset costs a tenth of a naive datetime's `.replace(tzinfo=UTC)`.
    """
    return datetime.fromisoformat(stored + "+00:00")


def utc_or_none(stored: str | None) -> datetime | None:
    return None if stored is None else datetime.fromisoformat(stored + "+00:00")


@dataclass(frozen=True, slots=True)
class _Driver:
    """What differs between the two drivers: placeholders and the fetch call."""

    placeholder: str
    fetch: Callable[[Any, str, Sequence[Any]], Awaitable[Sequence[Row]]]


# By SQLAlchemy's name of the driver (mychat.loop_sqlite's: sqlite3 in the loop's thread).
_DRIVERS = {
    "asyncmy": _Driver("%s", _fetch_asyncmy),
    "aiosqlite": _Driver("?", _fetch_aiosqlite),
    LOOP_THREAD_DRIVER: _Driver("?", _fetch_sqlite3),
}


@cache
def _prepared(sql: str, placeholder: str) -> str:
    return sql.replace("?", placeholder)


async def driver_rows(connection: AsyncConnection, sql: str, *args: Any) -> Sequence[Row]:
    """One statement (`?` placeholders) on the driver connection under `connection`."""
    driver = _DRIVERS[connection.dialect.driver]
    pooled = await connection.get_raw_connection()
    try:
        return await driver.fetch(
            pooled.driver_connection, _prepared(sql, driver.placeholder), args
        )
    except BaseException as error:  # incl. cancellation: the protocol state is unknown
        # Not reused: invalidate() closes the driver connection at once (no awaiting).
        pooled.invalidate(error if isinstance(error, Exception) else None)
        raise


async def engine_rows(engine: AsyncEngine, sql: str, *args: Any) -> Sequence[Row]:
    """One statement (`?` placeholders) on a driver connection checked out of `engine`'s pool
    for it alone (chat_service.pooled). Cheaper than an AsyncConnection's `get_raw_connection`:
    two greenlet switches instead of three, no Connection object."""
    driver = _DRIVERS[engine.dialect.driver]
    async with driver_connection(engine) as connection:
        return await driver.fetch(connection, _prepared(sql, driver.placeholder), args)


async def seed_page(
    engine: AsyncEngine,
    chat_id: int,
    user_id: int,
    *,
    limit: int,
    before: int | None,
    loop_reader: LoopReader | None = None,
) -> list[MessageView]:
    """Up to `limit` messages people wrote, newest first (before `before`, or from the newest),
    none unless a member, with the seed's fields only: no quote, edit or delete time, kind.
    On SQLite `loop_reader` reads it in the loop's thread unless the database is busy."""
    args: tuple[int, ...]
    if before is None:
        sql, args = SEED_NEWEST, (chat_id, user_id, chat_id, limit)
    else:
        sql, args = SEED_BEFORE, (chat_id, user_id, chat_id, before, limit)
    read_here = None if loop_reader is None else loop_reader.rows(sql, args)
    rows = await engine_rows(engine, sql, *args) if read_here is None else read_here
    return [
        MessageView(id_, chat, sender, nickname, text, utc(at), client_id)
        for id_, chat, sender, nickname, text, at, client_id in rows
    ]


async def message_page(
    connection: AsyncConnection,
    chat_id: int,
    user_id: int,
    *,
    limit: int,
    before: int | None,
    after: int | None,
) -> list[MessageView]:
    """Up to `limit` messages in the order of the statement: ascending after `after`, else
    descending (newest first) before `before` or from the newest; none unless a member."""
    if after is not None:
        rows = await driver_rows(connection, AFTER, chat_id, user_id, chat_id, after, limit)
    elif before is not None:
        rows = await driver_rows(connection, BEFORE, chat_id, user_id, chat_id, before, limit)
    else:
        rows = await driver_rows(connection, NEWEST, chat_id, user_id, chat_id, limit)
    return [message_view(row) for row in rows]


def message_view(row: Row) -> MessageView:
    """A MessageView from a row of the driver statements here and in chat_service.sending."""
    id_, chat, sender, nickname, text, at, client_id, edited, deleted, reply_to_id, kind = row
    dated = (utc(at), client_id, utc_or_none(edited), utc_or_none(deleted))
    return MessageView.from_row((id_, chat, sender, nickname, text, *dated, reply_to_id, kind))
