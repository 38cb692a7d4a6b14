"""A deleted account leaves every chat: auth_service announces it, chat_service acts on it.

The services never call each other: auth_service erases the account and publishes
ACCOUNT_DELETED; this follower takes the user out of each of their chats (an owner hands the
chat on, members see MEMBER_LEFT as for any leave). An announcement missed while the broker was
away is caught up on: at start and after every RESYNC, every deleted user still in a chat
leaves it.
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chat_service.members import do_leave_chat
from chat_service.unit_of_work import unit_of_work
from mychat.background import running
from mychat.broker import Broker, Resync
from mychat.events import EventKind
from mychat.http import ApiError
from mychat.tables import chat_members, users

log = logging.getLogger(__name__)


async def get_memberships_of_deleted_users(
    connection: AsyncConnection, user_id: int | None = None
) -> list[tuple[int, int]]:
    """(chat id, user id) of every deleted user's membership (or only `user_id`'s)."""
    member = chat_members.c
    statement = (
        select(member.chat_id, member.user_id)
        .join(users, users.c.id == member.user_id)
        .where(users.c.deleted_at.is_not(None))
    )
    if user_id is not None:
        statement = statement.where(member.user_id == user_id)
    return [(chat_id, member_id) for chat_id, member_id in await connection.execute(statement)]


async def remove_deleted_members(
    engine: AsyncEngine, broker: Broker, user_id: int | None = None
) -> int:
    """Take deleted users out of their chats, one unit of work (and its events) per chat."""
    async with engine.connect() as connection:
        memberships = await get_memberships_of_deleted_users(connection, user_id)
    left = 0
    for chat_id, member_id in memberships:
        try:
            async with unit_of_work(engine, broker) as work:
                await do_leave_chat(work, chat_id, member_id)
            left += 1
        except ApiError:  # another chat_service process took them out first
            continue
    return left


async def follow_deleted_accounts(broker: Broker, engine: AsyncEngine) -> None:
    async with broker.subscribe() as subscription:
        await _remove_logged(engine, broker, None)
        async for item in subscription:
            if isinstance(item, Resync):
                await _remove_logged(engine, broker, None)
            elif item.kind == EventKind.ACCOUNT_DELETED:
                user_id = item.payload.get("user_id")
                if isinstance(user_id, int):
                    await _remove_logged(engine, broker, user_id)


async def _remove_logged(engine: AsyncEngine, broker: Broker, user_id: int | None) -> None:
    try:
        await remove_deleted_members(engine, broker, user_id)
    except Exception:  # the database is away: the next RESYNC or restart tries again
        log.exception("could not remove deleted accounts from their chats")


def deleted_accounts_followed(
    broker: Broker, engine: AsyncEngine
) -> AbstractAsyncContextManager[None]:
    return running(follow_deleted_accounts(broker, engine), "deleted-accounts")
