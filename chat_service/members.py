"""Chat members: adding one, leaving, and listing them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chat_service.access import access_chat_for_user, check_not_direct
from chat_service.system_lines import LineKind, add_system_line
from chat_service.unit_of_work import UnitOfWork
from chat_service.users import get_user_by_nickname
from chat_service.views import MemberView, iso
from mychat.db import utc_now
from mychat.events import Event, EventKind
from mychat.http import ApiError
from mychat.tables import chat_members, users

ROLE_OWNER = "owner"
ROLE_MEMBER = "member"

_cm, _u = chat_members.c, users.c


def check_nickname(nickname: str) -> str:
    nickname = nickname.strip()
    if not nickname:
        raise ApiError(400, "validation_error", "Nickname is required", field="nickname")
    return nickname


def _already_a_member(nickname: str) -> ApiError:
    return ApiError(409, "already_a_member", f"{nickname} is already a member of this chat")


_IS_MEMBER = select(_cm.user_id).where(
    _cm.chat_id == bindparam("chat_id"), _cm.user_id == bindparam("user_id")
)


async def do_add_member(work: UnitOfWork, chat_id: int, actor_id: int, nickname: str) -> MemberView:
    """Add the user with this nickname; 404 unknown nickname, 409 already a member."""
    nickname = check_nickname(nickname)
    connection = work.connection
    access = await access_chat_for_user(connection, chat_id, actor_id, lock=True)
    check_not_direct(access.chat, "nobody can be added")
    user = await get_user_by_nickname(connection, nickname)
    params = {"chat_id": chat_id, "user_id": user.id}
    if (await connection.execute(_IS_MEMBER, params)).first() is not None:
        raise _already_a_member(user.nickname)
    joined_at = utc_now()
    try:
        await connection.execute(
            insert(chat_members).values(
                **params, role=ROLE_MEMBER, joined_at=joined_at, last_read_message_id=0
            )
        )
    except IntegrityError as error:  # a concurrent add of the same user won
        raise _already_a_member(user.nickname) from error
    line = await add_system_line(work, chat_id, LineKind.JOINED, user.id, user.nickname)
    work.emit(
        Event(
            EventKind.MEMBER_ADDED,
            chat_id,
            {
                "user": {"id": user.id, "nickname": user.nickname},
                "added_by": actor_id,
                "joined_at": iso(joined_at),
                "line": line.to_json(),
            },
        )
    )
    return MemberView(user.id, user.nickname, ROLE_MEMBER, joined_at)


_OLDEST_MEMBER = (
    select(_cm.user_id, _u.nickname)
    .join(users, _u.id == _cm.user_id)
    .where(_cm.chat_id == bindparam("chat_id"))
    .order_by(_cm.joined_at, _cm.user_id)
    .limit(1)
)


def user_json(user_id: int, nickname: str) -> dict[str, Any]:
    return {"id": user_id, "nickname": nickname}


def emit_owner_changed(
    work: UnitOfWork,
    chat_id: int,
    owner: dict[str, Any],
    previous_owner: dict[str, Any],
    reason: str,
) -> None:
    """The chat has a new owner: handed on ("handed_on") or the owner left ("owner_left")."""
    work.emit(
        Event(
            EventKind.OWNER_CHANGED,
            chat_id,
            {"owner": owner, "previous_owner": previous_owner, "reason": reason},
        )
    )


async def set_role(connection: AsyncConnection, chat_id: int, user_id: int, role: str) -> None:
    await connection.execute(
        update(chat_members).where(_cm.chat_id == chat_id, _cm.user_id == user_id).values(role=role)
    )


async def do_leave_chat(work: UnitOfWork, chat_id: int, user_id: int) -> None:
    """Leave; an owner hands the chat to the longest-standing member. Empty chats stay stored."""
    connection = work.connection
    access = await access_chat_for_user(connection, chat_id, user_id, lock=True)
    await connection.execute(
        delete(chat_members).where(_cm.chat_id == chat_id, _cm.user_id == user_id)
    )
    me = user_json(user_id, access.nickname)
    line = await add_system_line(work, chat_id, LineKind.LEFT, user_id, access.nickname)
    work.emit(Event(EventKind.MEMBER_LEFT, chat_id, {"user": me, "line": line.to_json()}))
    if access.chat.my_role == ROLE_OWNER:
        successor = (await connection.execute(_OLDEST_MEMBER, {"chat_id": chat_id})).first()
        if successor is not None:
            await set_role(connection, chat_id, successor[0], ROLE_OWNER)
            emit_owner_changed(work, chat_id, user_json(*successor), me, "owner_left")


_MINE = select(_cm.chat_id).where(
    _cm.user_id == bindparam("user_id"), _cm.chat_id.in_(bindparam("chat_ids", expanding=True))
)
_MEMBERS = (
    select(_cm.chat_id, _cm.user_id, _u.nickname, _cm.role, _cm.joined_at, _cm.last_read_message_id)
    .join(users, _u.id == _cm.user_id)
    .where(_cm.chat_id.in_(bindparam("chat_ids", expanding=True)))
    .order_by(_cm.joined_at, _cm.user_id)
)


async def get_members(
    connection: AsyncConnection, user_id: int, chat_ids: Sequence[int]
) -> dict[int, list[MemberView]]:
    """Members of each given chat the user belongs to (others are left out), oldest first."""
    mine = set(await connection.scalars(_MINE, {"user_id": user_id, "chat_ids": list(chat_ids)}))
    members: dict[int, list[MemberView]] = {chat_id: [] for chat_id in chat_ids if chat_id in mine}
    if not mine:
        return members
    for chat_id, *member in await connection.execute(_MEMBERS, {"chat_ids": sorted(mine)}):
        members[chat_id].append(MemberView(*member))
    return members
