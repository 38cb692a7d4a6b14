"""Fetch a chat for a user or refuse: the one membership check every read and write goes through,
and the one way a writer locks a chat."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chat_service.views import Chat
from mychat.http import ApiError
from mychat.tables import chat_members, chats, users

NOT_A_MEMBER_MESSAGE = "You are not a member of this chat"

_c, _cm, _u = chats.c, chat_members.c, users.c
# A chat's columns in the order of views.Chat's first fields.
CHAT_COLUMNS = (
    _c.id,
    _c.name,
    _c.created_at,
    _c.created_by,
    _c.last_activity_at,
    _c.last_message_id,
    _c.direct_pair,
)
ROLE_AT = len(CHAT_COLUMNS)  # where a row of CHAT_COLUMNS and the caller's role has the role


def chat_not_found() -> ApiError:
    return ApiError(404, "not_found", "Chat not found")


def message_not_found() -> ApiError:
    return ApiError(404, "not_found", "Message not found", field="message_id")


def not_a_member() -> ApiError:
    return ApiError(403, "not_a_member", NOT_A_MEMBER_MESSAGE)


def check_not_direct(chat: Chat, what: str) -> None:
    """Refuse changing the members or the name of a direct chat (chat_service.direct_chats):
    it has its two people for good, and each sees it named after the other."""
    if chat.direct_pair is not None:
        raise ApiError(403, "direct_chat", f"A direct chat cannot be changed: {what}")


class ChatAccess(NamedTuple):
    chat: Chat  # with the caller's role
    last_read_message_id: int
    nickname: str  # the caller's, read in the same query (events carry it)


# `FOR UPDATE` on MySQL/MariaDB; nothing on SQLite, where a writing unit of work holds the
# database's write lock from its BEGIN IMMEDIATE (mychat.db.create_engine) to its end.
_LOCK = (
    select(_c.id)
    # MariaDB scans a small table for many ids, and a locking scan locks every row it reads.
    .with_hint(chats, "FORCE INDEX (PRIMARY)", "mysql")
    .where(_c.id.in_(bindparam("chat_ids", expanding=True)))
    .order_by(_c.id)
)
LOCK_CHATS = _LOCK.with_for_update()

_ACCESS = (
    select(*CHAT_COLUMNS, _cm.role, _cm.last_read_message_id, _u.nickname)
    .select_from(
        chats.outerjoin(
            chat_members, and_(_cm.chat_id == _c.id, _cm.user_id == bindparam("user_id"))
        ).outerjoin(users, _u.id == _cm.user_id)
    )
    .where(_c.id == bindparam("chat_id"))
)


# The chat and these users' memberships: one row per member among them (a row of NULL
# membership if none is, no row for an unknown chat).
_ACCESS_FOR_USERS = (
    select(*CHAT_COLUMNS, _cm.role, _cm.last_read_message_id, _u.nickname, _cm.user_id)
    .select_from(
        chats.outerjoin(
            chat_members,
            and_(_cm.chat_id == _c.id, _cm.user_id.in_(bindparam("user_ids", expanding=True))),
        ).outerjoin(users, _u.id == _cm.user_id)
    )
    .where(_c.id == bindparam("chat_id"))
)


async def lock_chats(connection: AsyncConnection, chat_ids: list[int]) -> set[int]:
    """Lock the rows of these chats (ascending ids, so writers never deadlock) until the
    transaction ends; the ids that exist. Every writer of a chat's members or messages takes
    this lock first: membership read after it is the latest, and stays so."""
    rows = await connection.execute(LOCK_CHATS, {"chat_ids": sorted(chat_ids)})
    return {chat_id for (chat_id,) in rows}


async def access_chat_for_user(
    connection: AsyncConnection, chat_id: int, user_id: int, *, lock: bool = False
) -> ChatAccess:
    """The chat and the caller's membership; 404 for an unknown chat, 403 for a non-member.

    lock=True (in a unit of work) takes the chat's row lock first (lock_chats).
    """
    if lock:
        await lock_chats(connection, [chat_id])
    row = (await connection.execute(_ACCESS, {"chat_id": chat_id, "user_id": user_id})).first()
    if row is None:
        raise chat_not_found()
    role, last_read, nickname = row[ROLE_AT:]
    if role is None or nickname is None:
        raise not_a_member()
    return ChatAccess(Chat.from_row(row, role), last_read, nickname)


async def access_for_users(
    connection: AsyncConnection, asked: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], ChatAccess | ApiError]:
    """`access_chat_for_user` for many (chat, user) pairs: one statement per chat, whatever the
    number of its users. Each pair gets its access or the ApiError (404, 403) it would raise."""
    users_of: dict[int, set[int]] = {}
    for chat_id, user_id in asked:
        users_of.setdefault(chat_id, set()).add(user_id)
    found: dict[tuple[int, int], ChatAccess | ApiError] = {}
    for chat_id, user_ids in users_of.items():
        params = {"chat_id": chat_id, "user_ids": sorted(user_ids)}
        rows = (await connection.execute(_ACCESS_FOR_USERS, params)).all()
        for row in rows:
            role, last_read, nickname, user_id = row[ROLE_AT:]
            if role is not None and nickname is not None:
                chat = Chat.from_row(row, role)
                found[(chat_id, user_id)] = ChatAccess(chat, last_read, nickname)
        refused = not_a_member() if rows else chat_not_found()
        for user_id in user_ids:
            found.setdefault((chat_id, user_id), refused)
    return found


_MEMBERSHIP = (
    select(_cm.user_id)
    .select_from(
        chats.outerjoin(
            chat_members, and_(_cm.chat_id == _c.id, _cm.user_id == bindparam("user_id"))
        )
    )
    .where(_c.id == bindparam("chat_id"))
)


async def check_access(connection: AsyncConnection, chat_id: int, user_id: int) -> None:
    """404 for an unknown chat, 403 for a non-member, else nothing (one cheap statement)."""
    row = (await connection.execute(_MEMBERSHIP, {"chat_id": chat_id, "user_id": user_id})).first()
    if row is None:
        raise chat_not_found()
    if row[0] is None:
        raise not_a_member()
