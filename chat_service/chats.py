"""Chats: creating one, and listing a user's chats."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chat_service.access import CHAT_COLUMNS, ROLE_AT
from chat_service.direct_chats import with_peers
from chat_service.members import ROLE_MEMBER, ROLE_OWNER
from chat_service.messages import (
    get_messages_by_ids,
    newest_line_ids,
    unread_counts,
    unread_counts_with_newest,
)
from chat_service.unit_of_work import UnitOfWork
from chat_service.users import get_acting_user, get_users_by_nicknames
from chat_service.validation import check_trimmed_text
from chat_service.views import Chat, MessageView
from mychat.bounds import MAX_DATABASE_ID
from mychat.db import utc_now
from mychat.events import Event, EventKind
from mychat.http import ApiError
from mychat.names import NameProblem, normalise_name
from mychat.tables import CHAT_NAME_MAX, chat_members, chats

CHATS_PAGE_MAX = 100
INITIAL_MEMBERS_MAX = 100
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_c, _cm = chats.c, chat_members.c
# The caller's chats with their role: every listing starts from here.
_MINE = select(*CHAT_COLUMNS, _cm.role).join(
    chat_members, and_(_cm.chat_id == _c.id, _cm.user_id == bindparam("user_id"))
)


def check_chat_name(name: str) -> str:
    """Trimmed, NFC, 1-100 characters with a letter or digit, no bidi controls (as nicknames,
    mychat.names)."""
    name = check_trimmed_text(name, field="name", label="Chat name", max_length=CHAT_NAME_MAX)
    try:
        return normalise_name(name, "Chat name")
    except NameProblem as problem:
        raise ApiError(400, "validation_error", str(problem), field="name") from problem


async def do_create_chat(
    work: UnitOfWork, name: str, creator_id: int, member_nicknames: Collection[str] = ()
) -> Chat:
    """A new chat owned by its creator, with the named users as members from the start."""
    name = check_chat_name(name)
    if len(member_nicknames) > INITIAL_MEMBERS_MAX:
        raise ApiError(
            400,
            "validation_error",
            f"At most {INITIAL_MEMBERS_MAX} members at creation",
            field="member_nicknames",
        )
    connection = work.connection
    creator = await get_acting_user(connection, creator_id)
    others = await get_users_by_nicknames(connection, member_nicknames)
    member_ids = [creator.id, *sorted({user.id for user in others} - {creator.id})]
    now = utc_now()
    created = await connection.execute(
        insert(chats).values(name=name, created_by=creator.id, created_at=now, last_activity_at=now)
    )
    assert created.inserted_primary_key is not None  # an INSERT's result
    chat_id: int = created.inserted_primary_key[0]
    await connection.execute(
        insert(chat_members),
        [
            {
                "chat_id": chat_id,
                "user_id": user_id,
                "role": ROLE_OWNER if user_id == creator.id else ROLE_MEMBER,
                "joined_at": now,
                "last_read_message_id": 0,
            }
            for user_id in member_ids
        ],
    )
    chat = Chat(chat_id, name, now, creator.id, now, None, ROLE_OWNER, 0)
    work.emit(
        Event(
            EventKind.CHAT_CREATED,
            chat_id,
            {"chat": chat.to_event_json(), "member_ids": member_ids},
            frozenset(member_ids),
        )
    )
    return chat


def encode_chat_cursor(chat: Chat) -> str:
    micros = (chat.last_activity_at - EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}:{chat.id}".encode()).decode().rstrip("=")


def decode_chat_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        micros, chat_id = (int(part) for part in raw.split(":"))
        if not 0 <= chat_id <= MAX_DATABASE_ID:
            raise ValueError("no such chat")
        return EPOCH + timedelta(microseconds=micros), chat_id
    except (ValueError, binascii.Error, OverflowError) as error:
        raise ApiError(400, "validation_error", "Invalid cursor", field="after") from error


async def _chats(
    connection: AsyncConnection,
    user_id: int,
    rows: Sequence[Sequence[Any]],
    *,
    with_unread: bool,
) -> list[Chat]:
    # Each row: access.CHAT_COLUMNS, then the caller's role. Direct chats get their other
    # person (their name for the caller).
    if not with_unread:
        found = [Chat.from_row(row, row[ROLE_AT]) for row in rows]
    else:
        unread = await unread_counts(connection, user_id, [row[0] for row in rows])
        found = [Chat.from_row(row, row[ROLE_AT], unread.get(row[0], 0)) for row in rows]
    return await with_peers(connection, user_id, found)


async def get_chats_for_user(
    connection: AsyncConnection,
    user_id: int,
    *,
    first: int = 20,
    after: str | None = None,
    with_unread: bool = True,
) -> tuple[list[Chat], str | None]:
    """The user's chats, newest activity first, one keyset page; and the next page's cursor."""
    statement = _MINE.order_by(_c.last_activity_at.desc(), _c.id.desc()).limit(first + 1)
    if after is not None:
        activity, chat_id = decode_chat_cursor(after)
        statement = statement.where(
            or_(
                _c.last_activity_at < activity,
                and_(_c.last_activity_at == activity, _c.id < chat_id),
            )
        )
    rows = (await connection.execute(statement, {"user_id": user_id})).all()
    page = await _chats(connection, user_id, rows[:first], with_unread=with_unread)
    next_cursor = encode_chat_cursor(page[-1]) if len(rows) > first else None
    return page, next_cursor


_BY_IDS = _MINE.where(_c.id.in_(bindparam("chat_ids", expanding=True)))


async def get_chats_by_ids(
    connection: AsyncConnection, user_id: int, chat_ids: Sequence[int], *, with_unread: bool = True
) -> list[Chat]:
    """The given chats the user is a member of, in the order asked for."""
    rows = await connection.execute(_BY_IDS, {"user_id": user_id, "chat_ids": list(chat_ids)})
    by_id = {row[0]: row for row in rows}
    ordered = [by_id[chat_id] for chat_id in dict.fromkeys(chat_ids) if chat_id in by_id]
    return await _chats(connection, user_id, ordered, with_unread=with_unread)


class ChatState(NamedTuple):
    """A chat as a live subscription starts from it (gateway/chat_state.py)."""

    chat: Chat
    last_message: MessageView | None
    # The newest message id `chat.unread_count` took into account: at least the chat's
    # `last_message_id`, more when a message committed between reading the row and counting.
    counted_up_to: int
    # The chat's newest line of any kind (a system line after its last message, say): where a
    # live subscription that starts now starts.
    newest_line_id: int


async def get_chat_state(
    connection: AsyncConnection, user_id: int, chat_ids: Sequence[int] | None = None
) -> list[ChatState]:
    """Each of the user's chats (or of the given ones the user is in) with its unread count and
    its newest message: what a live subscription starts from (gateway/chat_state.py)."""
    if chat_ids is None:
        rows = (await connection.execute(_MINE, {"user_id": user_id})).all()
    else:
        params = {"user_id": user_id, "chat_ids": list(chat_ids)}
        rows = (await connection.execute(_BY_IDS, params)).all()
    # Counted after the rows were read (a chat's ids commit in order under its row lock), and
    # the newest lines after the count (so never older than what it counted).
    unread = await unread_counts_with_newest(connection, user_id, [row[0] for row in rows])
    newest_lines = await newest_line_ids(connection, [row[0] for row in rows])
    found = [Chat.from_row(row, row[ROLE_AT], unread.get(row[0], (0, 0))[0]) for row in rows]
    found = await with_peers(connection, user_id, found)
    last = await get_messages_by_ids(connection, [chat.last_message_id for chat in found])
    states = []
    for chat in found:
        counted_up_to = max(chat.last_message_id or 0, unread.get(chat.id, (0, 0))[1])
        newest_line = max(counted_up_to, newest_lines.get(chat.id, 0))
        states.append(
            ChatState(chat, last.get(chat.last_message_id or 0), counted_up_to, newest_line)
        )
    return states


_CHAT_IDS = select(_cm.chat_id).where(_cm.user_id == bindparam("user_id")).order_by(_cm.chat_id)


async def get_chat_ids_for_user(connection: AsyncConnection, user_id: int) -> list[int]:
    return list(await connection.scalars(_CHAT_IDS, {"user_id": user_id}))


_NEWEST_FIRST = _MINE.order_by(_c.created_at.desc(), _c.id.desc())


async def get_chats_newest_first(connection: AsyncConnection, user_id: int) -> list[Chat]:
    """Every chat of the user, newest created first (the seed's chat list)."""
    rows = await connection.execute(_NEWEST_FIRST, {"user_id": user_id})
    return [Chat.from_row(row, row[ROLE_AT]) for row in rows]
