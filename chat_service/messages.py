"""Sending, reading and marking messages read."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import User
from chat_service.access import access_chat_for_user
from chat_service.models import MESSAGE_TEXT_MAX, Chat, ChatMember, Message
from chat_service.unit_of_work import emit
from chat_service.validation import check_trimmed_text
from chat_service.views import MessageView
from mychat.db import utc_now
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


def _message_rows() -> MessageRow:
    """Plain columns in MessageView's order: no ORM entities on the read paths."""
    return select(
        Message.id,
        Message.chat_id,
        Message.sender_id,
        User.nickname,
        Message.text,
        Message.created_at,
        Message.client_id,
    ).join(User, User.id == Message.sender_id)


async def _views(session: AsyncSession, statement: MessageRow) -> list[MessageView]:
    return [MessageView(*row) for row in await session.execute(statement)]


async def _stored_by_client_id(
    session: AsyncSession, sender_id: int, client_id: str, *, latest: bool
) -> MessageView | None:
    statement = _message_rows().where(
        Message.sender_id == sender_id, Message.client_id == client_id
    )
    if latest:
        # A locking read sees rows committed after this transaction's snapshot (InnoDB);
        # shared, because the failed INSERT already holds a shared lock on that index entry.
        statement = statement.with_for_update(read=True)
    found = await _views(session, statement)
    return found[0] if found else None


def _replayed(stored: MessageView, chat_id: int) -> MessageView:
    if stored.chat_id != chat_id:
        raise ApiError(
            409,
            "conflict",
            "This client_id was already used for a message in another chat",
            field="client_id",
        )
    return stored


async def do_send_message(
    session: AsyncSession, chat_id: int, sender_id: int, text: str, client_id: str | None = None
) -> tuple[MessageView, bool]:
    """Store a message; (message, created). A repeated client_id returns the stored message."""
    text = check_message_text(text)
    client_id = check_client_id(client_id)
    chat, _member, nickname = await access_chat_for_user(session, chat_id, sender_id, lock=True)
    if client_id is not None:
        stored = await _stored_by_client_id(session, sender_id, client_id, latest=False)
        if stored is not None:
            return _replayed(stored, chat_id), False
    message = Message(
        chat_id=chat_id, sender_id=sender_id, text=text, client_id=client_id, created_at=utc_now()
    )
    if client_id is None:
        session.add(message)
        await session.flush()
    else:
        try:
            async with session.begin_nested():
                session.add(message)
        except IntegrityError:
            # A concurrent send with the same client_id won; the unique index decided.
            stored = await _stored_by_client_id(session, sender_id, client_id, latest=True)
            if stored is None:
                raise
            return _replayed(stored, chat_id), False
    if chat.last_message_id is None or chat.last_message_id < message.id:
        chat.last_message_id = message.id
        chat.last_activity_at = message.created_at
    await session.flush()
    view = MessageView(
        message.id, chat_id, sender_id, nickname, text, message.created_at, client_id
    )
    emit(session, Event(EventKind.MESSAGE_ADDED, chat_id, {"message": view.to_json()}))
    return view, True


async def get_chat_messages(
    session: AsyncSession,
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
    """
    statement = (
        _message_rows()
        # Membership folded into the page query; only an empty page needs a separate check.
        .join(
            ChatMember,
            and_(ChatMember.chat_id == Message.chat_id, ChatMember.user_id == user_id),
        )
        .where(Message.chat_id == chat_id)
        .limit(limit + 1)
    )
    if after is not None:
        page = await _views(session, statement.where(Message.id > after).order_by(Message.id))
    else:
        if before is not None:
            statement = statement.where(Message.id < before)
        page = (await _views(session, statement.order_by(Message.id.desc())))[::-1]
    if not page:
        await access_chat_for_user(session, chat_id, user_id)  # 404 or 403, else truly empty
        return [], False
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
        .join(
            ChatMember,
            and_(ChatMember.chat_id == Message.chat_id, ChatMember.user_id == user_id),
        )
        .where(Message.id > after)
        .order_by(Message.id)
        .limit(limit + 1)
    )
    page = await _views(session, statement)
    return page[:limit], len(page) > limit


async def get_last_messages(
    session: AsyncSession, user_id: int, chat_ids: Collection[int]
) -> dict[int, MessageView | None]:
    """The newest message of each of the given chats the user is a member of."""
    rows = await session.execute(
        select(Chat.id, Chat.last_message_id)
        .join(ChatMember, and_(ChatMember.chat_id == Chat.id, ChatMember.user_id == user_id))
        .where(Chat.id.in_(chat_ids))
    )
    last_ids = dict(rows.all())
    message_ids = [message_id for message_id in last_ids.values() if message_id is not None]
    found: dict[int, MessageView] = {}
    if message_ids:
        views = await _views(session, _message_rows().where(Message.id.in_(message_ids)))
        found = {view.chat_id: view for view in views}
    return {chat_id: found.get(chat_id) for chat_id in last_ids}


async def unread_counts(
    session: AsyncSession, user_id: int, chat_ids: Sequence[int]
) -> dict[int, int]:
    """Messages from others after the user's read marker, per chat (missing means 0)."""
    if not chat_ids:
        return {}
    rows = await session.execute(
        select(Message.chat_id, func.count())
        .join(
            ChatMember,
            and_(ChatMember.chat_id == Message.chat_id, ChatMember.user_id == user_id),
        )
        .where(
            Message.chat_id.in_(chat_ids),
            Message.id > ChatMember.last_read_message_id,
            Message.sender_id != user_id,
        )
        .group_by(Message.chat_id)
    )
    return {chat_id: count for chat_id, count in rows}


async def do_mark_read(session: AsyncSession, chat_id: int, user_id: int, message_id: int) -> int:
    """Move the user's read marker forward (never back, never past the last message)."""
    if message_id < 0:
        raise ApiError(
            400, "validation_error", "message_id must not be negative", field="message_id"
        )
    chat, member, _nickname = await access_chat_for_user(session, chat_id, user_id)
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
    return max(target, member.last_read_message_id)
