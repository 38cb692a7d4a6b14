"""Fetch a chat for a user or refuse: the one membership check every read and write goes through."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chat_service.models import Chat, ChatMember
from mychat.http import ApiError
from mychat.tables import users

NOT_A_MEMBER_MESSAGE = "You are not a member of this chat"


def chat_not_found() -> ApiError:
    return ApiError(404, "not_found", "Chat not found")


def not_a_member() -> ApiError:
    return ApiError(403, "not_a_member", NOT_A_MEMBER_MESSAGE)


class ChatAccess(NamedTuple):
    chat: Chat
    member: ChatMember
    nickname: str  # the caller's, read in the same query (messages carry it)


async def access_chat_for_user(
    session: AsyncSession, chat_id: int, user_id: int, *, lock: bool = False
) -> ChatAccess:
    """The chat and the caller's membership; 404 for an unknown chat, 403 for a non-member.

    lock=True serialises writers of one chat: it starts with a write to the chat row, which
    takes InnoDB's row lock (no FK shared-lock deadlocks between concurrent senders) and
    SQLite's write lock before anything is read (no stale snapshot to upgrade).
    """
    if lock:
        await session.execute(
            update(Chat)
            .where(Chat.id == chat_id)
            .values(last_activity_at=Chat.last_activity_at)
            .execution_options(synchronize_session=False)
        )
    row = (
        await session.execute(
            select(Chat, ChatMember, users.c.nickname)
            .outerjoin(
                ChatMember, and_(ChatMember.chat_id == Chat.id, ChatMember.user_id == user_id)
            )
            .outerjoin(users, users.c.id == ChatMember.user_id)
            .where(Chat.id == chat_id)
            # Under the lock, read the row as it is now, not as this session last saw it.
            .execution_options(populate_existing=lock)
        )
    ).first()
    if row is None:
        raise chat_not_found()
    chat, member, nickname = row
    if member is None or nickname is None:
        raise not_a_member()
    return ChatAccess(chat, member, nickname)
