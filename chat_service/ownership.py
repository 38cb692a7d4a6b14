"""Owner actions: rename the chat, remove a member, hand ownership on.

Only the owner may (403 `not_owner`), never in a direct chat (403 `direct_chat`). Each runs in
the caller's unit of work with the chat's row locked (access.lock_chats) and emits its event
with the data every client shows (who, by whom, the new name), so gateways deliver it without
calling back and history can keep it as a system line.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chat_service.access import ChatAccess, access_chat_for_user, check_not_direct
from chat_service.chats import check_chat_name
from chat_service.members import (
    ROLE_MEMBER,
    ROLE_OWNER,
    emit_owner_changed,
    set_role,
    user_json,
)
from chat_service.system_lines import LineKind, add_system_line
from chat_service.unit_of_work import UnitOfWork
from chat_service.views import Chat, MemberView
from mychat.events import Event, EventKind
from mychat.http import ApiError
from mychat.tables import chat_members, chats, users

_cm, _u = chat_members.c, users.c

_MEMBER = (
    select(_cm.user_id, _u.nickname, _cm.role, _cm.joined_at, _cm.last_read_message_id)
    .join(users, _u.id == _cm.user_id)
    .where(_cm.chat_id == bindparam("chat_id"), _cm.user_id == bindparam("user_id"))
)


def not_owner(what: str) -> ApiError:
    return ApiError(403, "not_owner", f"Only the chat's owner can {what}")


async def _access_as_owner(work: UnitOfWork, chat_id: int, user_id: int, what: str) -> ChatAccess:
    """The locked chat, if the caller is its owner and it is not a direct chat."""
    access = await access_chat_for_user(work.connection, chat_id, user_id, lock=True)
    check_not_direct(access.chat, f"nobody can {what}")
    if access.chat.my_role != ROLE_OWNER:
        raise not_owner(what)
    return access


async def _other_member(
    connection: AsyncConnection, chat_id: int, user_id: int, actor_id: int, *, yourself: str
) -> MemberView:
    """Another member of the chat; 400 for the caller themselves, 404 for anyone else."""
    if user_id == actor_id:
        raise ApiError(400, "validation_error", yourself, field="user_id")
    row = (await connection.execute(_MEMBER, {"chat_id": chat_id, "user_id": user_id})).first()
    if row is None:
        raise ApiError(404, "not_found", "No such member in this chat", field="user_id")
    return MemberView(*row)


async def do_rename_chat(work: UnitOfWork, chat_id: int, actor_id: int, name: str) -> Chat:
    name = check_chat_name(name)
    access = await _access_as_owner(work, chat_id, actor_id, "rename the chat")
    previous = access.chat.name
    if name == previous:
        return access.chat
    await work.connection.execute(chats.update().where(chats.c.id == chat_id).values(name=name))
    line = await add_system_line(work, chat_id, LineKind.RENAMED, actor_id, access.nickname, name)
    work.emit(
        Event(
            EventKind.CHAT_RENAMED,
            chat_id,
            {
                "chat": {"id": chat_id, "name": name},
                "previous_name": previous,
                "by": user_json(actor_id, access.nickname),
                "line": line.to_json(),
            },
        )
    )
    return replace(access.chat, name=name)


async def do_remove_member(work: UnitOfWork, chat_id: int, actor_id: int, user_id: int) -> None:
    """Take a member out of the chat. The event's recipients include the removed user: their
    subscriptions learn it at once, on every gateway."""
    access = await _access_as_owner(work, chat_id, actor_id, "remove members")
    connection = work.connection
    member = await _other_member(
        connection,
        chat_id,
        user_id,
        actor_id,
        yourself="You cannot remove yourself; leave the chat instead",
    )
    await connection.execute(
        delete(chat_members).where(_cm.chat_id == chat_id, _cm.user_id == user_id)
    )
    line = await add_system_line(
        work, chat_id, LineKind.REMOVED, member.user_id, member.nickname, access.nickname
    )
    work.emit(
        Event(
            EventKind.MEMBER_REMOVED,
            chat_id,
            {
                "user": user_json(member.user_id, member.nickname),
                "by": user_json(actor_id, access.nickname),
                "line": line.to_json(),
            },
        )
    )


async def do_transfer_ownership(
    work: UnitOfWork, chat_id: int, actor_id: int, user_id: int
) -> MemberView:
    """Make another member the owner; the caller stays as a member. The new owner's view."""
    access = await _access_as_owner(work, chat_id, actor_id, "hand ownership on")
    connection = work.connection
    member = await _other_member(
        connection, chat_id, user_id, actor_id, yourself="You already own this chat"
    )
    await set_role(connection, chat_id, actor_id, ROLE_MEMBER)
    await set_role(connection, chat_id, user_id, ROLE_OWNER)
    emit_owner_changed(
        work,
        chat_id,
        user_json(member.user_id, member.nickname),
        user_json(actor_id, access.nickname),
        "handed_on",
    )
    return MemberView(
        member.user_id, member.nickname, ROLE_OWNER, member.joined_at, member.last_read_message_id
    )
