"""Sending, reading and marking messages read."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from chat_service.access import access_chat_for_user
from chat_service.fast_reads import FastReads
from chat_service.models import (
    MESSAGE_TEXT_MAX,
    ChatMember,
    chats_table,
    members_table,
    messages_table,
    users_table,
)
from chat_service.unit_of_work import emit
from chat_service.validation import check_trimmed_text
from chat_service.views import MessageView
from mychat.events import Event, EventKind
from mychat.http import ApiError, RateLimited
from mychat.ratelimit import RateLimiter

HISTORY_DEFAULT = 100
HISTORY_MAX = 500


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


MessageRow = Select[int, int, int, str, str, datetime, str | None]

_m, _u, _cm, _c = messages_table.c, users_table.c, members_table.c, chats_table.c


def _message_rows() -> MessageRow:
    """Plain columns of the tables in MessageView's order: no ORM entities on the read paths."""
    return select(
        _m.id, _m.chat_id, _m.sender_id, _u.nickname, _m.text, _m.created_at, _m.client_id
    ).join(users_table, _u.id == _m.sender_id)


async def _views(
    session: AsyncSession, statement: MessageRow, params: dict[str, Any] | None = None
) -> list[MessageView]:
    return [MessageView(*row) for row in await session.execute(statement, params)]


def client_id_used_elsewhere() -> ApiError:
    return ApiError(
        409,
        "conflict",
        "This client_id was already used for a message in another chat",
        field="client_id",
    )


async def get_chat_messages(
    reads: FastReads,
    chat_id: int,
    user_id: int,
    *,
    limit: int = HISTORY_DEFAULT,
    before: int | None = None,
    after: int | None = None,
) -> tuple[list[MessageView], bool]:
    """A page of one chat's messages, oldest first, and whether more lie beyond it.

    With `after`: the oldest `limit` messages newer than it (more = newer ones remain).
    Otherwise: the newest `limit` messages older than `before` (more = older ones remain).
    One statement on the driver (chat_service.fast_reads), membership included.
    """
    page = await reads.message_page(chat_id, user_id, limit=limit + 1, before=before, after=after)
    if not page:
        await reads.check_access(chat_id, user_id)  # 404 or 403, else truly empty
        return [], False
    if after is None:
        page.reverse()  # read newest first
    if len(page) <= limit:
        return page, False
    # One row beyond the page: the oldest (backwards) or the newest (forwards) is dropped.
    return (page[:limit], True) if after is not None else (page[1:], True)


async def get_messages_after(
    session: AsyncSession, user_id: int, after: int, limit: int
) -> tuple[list[MessageView], bool]:
    """Messages in all the user's chats with id > after, oldest first (subscription catch-up)."""
    statement = (
        _message_rows()
        .join(members_table, and_(_cm.chat_id == _m.chat_id, _cm.user_id == user_id))
        .where(_m.id > after)
        .order_by(_m.id)
        .limit(limit + 1)
    )
    page = await _views(session, statement)
    return page[:limit], len(page) > limit


async def get_last_messages(
    session: AsyncSession, user_id: int, chat_ids: Collection[int]
) -> dict[int, MessageView | None]:
    """The newest message of each of the given chats the user is a member of."""
    rows = await session.execute(
        select(_c.id, _c.last_message_id)
        .join(members_table, and_(_cm.chat_id == _c.id, _cm.user_id == user_id))
        .where(_c.id.in_(chat_ids))
    )
    last_ids: dict[int, int | None] = {chat_id: last_id for chat_id, last_id in rows}
    message_ids = [message_id for message_id in last_ids.values() if message_id is not None]
    found: dict[int, MessageView] = {}
    if message_ids:
        views = await _views(session, _message_rows().where(_m.id.in_(message_ids)))
        found = {view.chat_id: view for view in views}
    return {chat_id: found.get(chat_id) for chat_id in last_ids}


async def unread_counts(
    session: AsyncSession, user_id: int, chat_ids: Sequence[int]
) -> dict[int, int]:
    """Messages from others after the user's read marker, per chat (missing means 0)."""
    if not chat_ids:
        return {}
    rows = await session.execute(
        select(_m.chat_id, func.count())
        .join(members_table, and_(_cm.chat_id == _m.chat_id, _cm.user_id == user_id))
        .where(
            _m.chat_id.in_(chat_ids),
            _m.id > _cm.last_read_message_id,
            _m.sender_id != user_id,
        )
        .group_by(_m.chat_id)
    )
    return {chat_id: count for chat_id, count in rows}


async def do_mark_read(session: AsyncSession, chat_id: int, user_id: int, message_id: int) -> int:
    """Move the user's read marker forward (never back, never past the last message)."""
    if message_id < 0:
        raise ApiError(
            400, "validation_error", "message_id must not be negative", field="message_id"
        )
    chat, member, nickname = await access_chat_for_user(session, chat_id, user_id)
    target = min(message_id, chat.last_message_id or 0)
    if target > member.last_read_message_id:
        await session.execute(
            update(ChatMember)
            .where(
                ChatMember.chat_id == chat_id,
                ChatMember.user_id == user_id,
                ChatMember.last_read_message_id < target,
            )
            .values(last_read_message_id=target)
            .execution_options(synchronize_session=False)
        )
        # Read receipts: the other members (and the reader's other tabs) see it live.
        read = {"user": {"id": user_id, "nickname": nickname}, "last_read_message_id": target}
        emit(session, Event(EventKind.MESSAGES_READ, chat_id, read))
    return max(target, member.last_read_message_id)
