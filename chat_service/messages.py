"""Reading messages (history pages, catch-up, last messages, unread counts) and read markers."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Integer, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chat_service.access import check_access
from chat_service.history import message_page, seed_page
from chat_service.loop_reads import LoopReader
from chat_service.replies import attach_quotes
from chat_service.views import MessageView
from mychat.tables import chat_members, chats, messages, users

HISTORY_DEFAULT = 100
HISTORY_MAX = 500

_m, _u, _cm, _c = messages.c, users.c, chat_members.c, chats.c

# A message's columns in MessageView's order, the sender's nickname a primary-key lookup.
_NICKNAME = select(_u.nickname).where(_u.id == _m.sender_id).scalar_subquery()
MESSAGE_COLUMNS = (
    _m.id,
    _m.chat_id,
    _m.sender_id,
    _NICKNAME,
    _m.text,
    _m.created_at,
    _m.client_id,
    _m.edited_at,
    _m.deleted_at,
    _m.reply_to_id,
    _m.kind,
)


def message_from_row(row: Sequence[Any]) -> MessageView:
    """A MessageView from a row of MESSAGE_COLUMNS (quote and reactions are attached later)."""
    return MessageView.from_row(row)


async def get_chat_messages(
    connection: AsyncConnection,
    chat_id: int,
    user_id: int,
    *,
    limit: int = HISTORY_DEFAULT,
    before: int | None = None,
    after: int | None = None,
) -> tuple[list[MessageView], bool]:
    """A page of one chat's messages (system lines included), oldest first, and whether more
    lie beyond it.

    With `after`: the oldest `limit` messages newer than it (more = newer ones remain).
    Otherwise: the newest `limit` messages older than `before` (more = older ones remain).
    One statement on the driver (chat_service.history), membership included; an empty page is
    told apart by check_access.
    """
    page = await message_page(
        connection, chat_id, user_id, limit=limit + 1, before=before, after=after
    )
    if not page:
        await check_access(connection, chat_id, user_id)  # 404 or 403, else truly empty
        return [], False
    if after is None:
        page.reverse()  # read newest first
    more = len(page) > limit
    if more:
        # One row beyond the page: the oldest (backwards) or the newest (forwards) is dropped.
        page = page[:limit] if after is not None else page[1:]
    return await attach_quotes(connection, page), more


async def get_written_messages(
    engine: AsyncEngine,
    chat_id: int,
    user_id: int,
    *,
    limit: int = HISTORY_DEFAULT,
    before: int | None = None,
    loop_reader: LoopReader | None = None,
) -> list[MessageView]:
    """The seed's REST history: the newest `limit` messages people wrote (no system lines)
    older than `before`, oldest first, with the seed's fields only (chat_service.history.
    seed_page: no quote, edit or delete time; a deleted message's text is ""). One statement on
    a pooled driver connection of `engine` (an autocommit engine); an empty page is told apart
    by check_access."""
    page = await seed_page(
        engine, chat_id, user_id, limit=limit, before=before, loop_reader=loop_reader
    )
    if not page:
        async with engine.connect() as connection:
            await check_access(connection, chat_id, user_id)  # 404 or 403, else truly empty
    page.reverse()  # read newest first
    return page


_AFTER_IN_MY_CHATS = (
    select(*MESSAGE_COLUMNS)
    .join(chat_members, and_(_cm.chat_id == _m.chat_id, _cm.user_id == bindparam("user_id")))
    .where(_m.id > bindparam("after"))
    .order_by(_m.id)
    .limit(bindparam("limit", type_=Integer))
)


async def get_messages_after(
    connection: AsyncConnection, user_id: int, after: int, limit: int
) -> tuple[list[MessageView], bool]:
    """Messages in all the user's chats with id > after, oldest first (subscription catch-up)."""
    params = {"user_id": user_id, "after": after, "limit": limit + 1}
    page = [message_from_row(row) for row in await connection.execute(_AFTER_IN_MY_CHATS, params)]
    return await attach_quotes(connection, page[:limit]), len(page) > limit


_LAST_IDS = (
    select(_c.id, _c.last_message_id)
    .join(chat_members, and_(_cm.chat_id == _c.id, _cm.user_id == bindparam("user_id")))
    .where(_c.id.in_(bindparam("chat_ids", expanding=True)))
)
_BY_IDS = select(*MESSAGE_COLUMNS).where(_m.id.in_(bindparam("ids", expanding=True)))


async def get_last_messages(
    connection: AsyncConnection, user_id: int, chat_ids: Collection[int]
) -> dict[int, MessageView | None]:
    """The newest message of each of the given chats the user is a member of."""
    rows = await connection.execute(_LAST_IDS, {"user_id": user_id, "chat_ids": list(chat_ids)})
    last_ids: dict[int, int | None] = {chat_id: last_id for chat_id, last_id in rows}
    found = await get_messages_by_ids(connection, last_ids.values())
    return {chat_id: found.get(last_id or 0) for chat_id, last_id in last_ids.items()}


async def get_messages_by_ids(
    connection: AsyncConnection, ids: Collection[int | None]
) -> dict[int, MessageView]:
    """The messages with these ids (None and unknown ids left out), by id; no access check."""
    wanted = [message_id for message_id in ids if message_id is not None]
    if not wanted:
        return {}
    rows = await connection.execute(_BY_IDS, {"ids": wanted})
    views = await attach_quotes(connection, [message_from_row(row) for row in rows])
    return {view.id: view for view in views}


_UNREAD = (
    select(_m.chat_id, func.count(), func.max(_m.id))
    .join(chat_members, and_(_cm.chat_id == _m.chat_id, _cm.user_id == bindparam("user_id")))
    .where(
        _m.chat_id.in_(bindparam("chat_ids", expanding=True)),
        _m.id > _cm.last_read_message_id,
        _m.sender_id != bindparam("user_id"),
        _m.kind.is_(None),  # system lines are never unread
    )
    .group_by(_m.chat_id)
)


async def unread_counts(
    connection: AsyncConnection, user_id: int, chat_ids: Sequence[int]
) -> dict[int, int]:
    """Messages from others after the user's read marker, per chat (missing means 0)."""
    if not chat_ids:
        return {}
    counted = await unread_counts_with_newest(connection, user_id, chat_ids)
    return {chat_id: count for chat_id, (count, _newest) in counted.items()}


_NEWEST_LINES = (
    select(_m.chat_id, func.max(_m.id))
    .where(_m.chat_id.in_(bindparam("chat_ids", expanding=True)))
    .group_by(_m.chat_id)
)


async def newest_line_ids(connection: AsyncConnection, chat_ids: Sequence[int]) -> dict[int, int]:
    """Per chat, its newest line of any kind (a system line too): one index dive a chat
    (ix_messages_chat_id_id). Chats without any are missing."""
    if not chat_ids:
        return {}
    rows = await connection.execute(_NEWEST_LINES, {"chat_ids": list(chat_ids)})
    return {chat_id: newest for chat_id, newest in rows}


async def unread_counts_with_newest(
    connection: AsyncConnection, user_id: int, chat_ids: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """Per chat: the unread count and the newest message id it counted. Read after the chats'
    rows, the count may include messages newer than their `last_message_id`: a live
    subscriber's state must know (gateway/chat_state.py), or it counts them again."""
    if not chat_ids:
        return {}
    rows = await connection.execute(_UNREAD, {"user_id": user_id, "chat_ids": list(chat_ids)})
    return {chat_id: (count, newest) for chat_id, count, newest in rows}
