"""Creating chats, adding and removing members, and listing a user's chats."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat_service.access import access_chat_for_user
from chat_service.messages import unread_counts
from chat_service.models import CHAT_NAME_MAX, Chat, ChatMember, chats_table, members_table
from chat_service.unit_of_work import emit
from chat_service.users import get_acting_user, get_user_by_nickname, get_users_by_nicknames
from chat_service.validation import check_trimmed_text
from chat_service.views import ChatRow, ChatView, MemberView, event_chat_json
from mychat.bounds import MAX_DATABASE_ID
from mychat.db import utc_now
from mychat.events import Event, EventKind
from mychat.http import ApiError
from mychat.tables import users

ROLE_OWNER = "owner"
ROLE_MEMBER = "member"
CHATS_PAGE_MAX = 100
INITIAL_MEMBERS_MAX = 100
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def check_chat_name(name: str) -> str:
    return check_trimmed_text(name, field="name", label="Chat name", max_length=CHAT_NAME_MAX)


def check_nickname(nickname: str) -> str:
    nickname = nickname.strip()
    if not nickname:
        raise ApiError(400, "validation_error", "Nickname is required", field="nickname")
    return nickname


async def do_create_chat(
    session: AsyncSession, name: str, creator_id: int, member_nicknames: Collection[str] = ()
) -> ChatView:
    """A new chat owned by its creator, with the named users as members from the start."""
    name = check_chat_name(name)
    if len(member_nicknames) > INITIAL_MEMBERS_MAX:
        raise ApiError(
            400,
            "validation_error",
            f"At most {INITIAL_MEMBERS_MAX} members at creation",
            field="member_nicknames",
        )
    creator = await get_acting_user(session, creator_id)
    others = await get_users_by_nicknames(session, member_nicknames)
    member_ids = [creator.id, *sorted({user.id for user in others} - {creator.id})]
    now = utc_now()
    chat = Chat(name=name, created_by=creator.id, created_at=now, last_activity_at=now)
    session.add(chat)
    await session.flush()
    session.add_all(
        ChatMember(
            chat_id=chat.id,
            user_id=user_id,
            role=ROLE_OWNER if user_id == creator.id else ROLE_MEMBER,
            joined_at=now,
            last_read_message_id=0,
        )
        for user_id in member_ids
    )
    await session.flush()
    emit(
        session,
        Event(
            EventKind.CHAT_CREATED,
            chat.id,
            {"chat": event_chat_json(chat), "member_ids": member_ids},
        ),
    )
    return ChatView(chat, ROLE_OWNER, 0)


async def do_add_member(
    session: AsyncSession, chat_id: int, actor_id: int, nickname: str
) -> MemberView:
    """Add the user with this nickname; 404 unknown nickname, 409 already a member."""
    nickname = check_nickname(nickname)
    await access_chat_for_user(session, chat_id, actor_id, lock=True)
    user = await get_user_by_nickname(session, nickname)
    if await session.get(ChatMember, (chat_id, user.id)) is not None:
        raise ApiError(409, "already_a_member", f"{user.nickname} is already a member of this chat")
    member = ChatMember(
        chat_id=chat_id,
        user_id=user.id,
        role=ROLE_MEMBER,
        joined_at=utc_now(),
        last_read_message_id=0,
    )
    session.add(member)
    try:
        await session.flush()
    except IntegrityError as error:  # a concurrent add of the same user won
        raise ApiError(
            409, "already_a_member", f"{user.nickname} is already a member of this chat"
        ) from error
    emit(
        session,
        Event(
            EventKind.MEMBER_ADDED,
            chat_id,
            {"user": {"id": user.id, "nickname": user.nickname}, "added_by": actor_id},
        ),
    )
    return MemberView(user.id, user.nickname, member.role, member.joined_at)


async def do_leave_chat(session: AsyncSession, chat_id: int, user_id: int) -> None:
    """Leave; an owner hands the chat to the longest-standing member. Empty chats stay stored."""
    _chat, member, nickname = await access_chat_for_user(session, chat_id, user_id, lock=True)
    was_owner = member.role == ROLE_OWNER
    await session.delete(member)
    await session.flush()
    if was_owner:
        successor = await session.scalar(
            select(ChatMember)
            .where(ChatMember.chat_id == chat_id)
            .order_by(ChatMember.joined_at, ChatMember.user_id)
            .limit(1)
        )
        if successor is not None:
            successor.role = ROLE_OWNER
            await session.flush()
    emit(
        session,
        Event(EventKind.MEMBER_LEFT, chat_id, {"user": {"id": user_id, "nickname": nickname}}),
    )


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


async def _views_of(
    session: AsyncSession,
    user_id: int,
    rows: Sequence[tuple[Chat | ChatRow, str]],
    *,
    with_unread: bool,
) -> list[ChatView]:
    if not with_unread:
        return [ChatView(chat, role, None) for chat, role in rows]
    unread = await unread_counts(session, user_id, [chat.id for chat, _role in rows])
    return [ChatView(chat, role, unread.get(chat.id, 0)) for chat, role in rows]


async def get_chats_for_user(
    session: AsyncSession,
    user_id: int,
    *,
    first: int = 20,
    after: str | None = None,
    with_unread: bool = True,
) -> tuple[list[ChatView], str | None]:
    """The user's chats, newest activity first, one keyset page; and the next page's cursor."""
    statement = (
        select(Chat, ChatMember.role)
        .join(ChatMember, and_(ChatMember.chat_id == Chat.id, ChatMember.user_id == user_id))
        .order_by(Chat.last_activity_at.desc(), Chat.id.desc())
        .limit(first + 1)
    )
    if after is not None:
        activity, chat_id = decode_chat_cursor(after)
        statement = statement.where(
            or_(
                Chat.last_activity_at < activity,
                and_(Chat.last_activity_at == activity, Chat.id < chat_id),
            )
        )
    rows = (await session.execute(statement)).all()
    page = rows[:first]
    next_cursor = encode_chat_cursor(page[-1][0]) if len(rows) > first else None
    return await _views_of(session, user_id, page, with_unread=with_unread), next_cursor


async def get_chats_by_ids(
    session: AsyncSession, user_id: int, chat_ids: Sequence[int], *, with_unread: bool = True
) -> list[ChatView]:
    """The given chats the user is a member of, in the order asked for (Core rows)."""
    c, cm = chats_table.c, members_table.c
    rows = await session.execute(
        select(
            c.id, c.name, c.created_at, c.created_by, c.last_activity_at, c.last_message_id, cm.role
        )
        .join(members_table, and_(cm.chat_id == c.id, cm.user_id == user_id))
        .where(c.id.in_(chat_ids))
    )
    by_id = {row[0]: (ChatRow(*row[:6]), row[6]) for row in rows}
    ordered = [by_id[chat_id] for chat_id in dict.fromkeys(chat_ids) if chat_id in by_id]
    return await _views_of(session, user_id, ordered, with_unread=with_unread)


async def get_chat_ids_for_user(session: AsyncSession, user_id: int) -> list[int]:
    rows = await session.scalars(
        select(ChatMember.chat_id).where(ChatMember.user_id == user_id).order_by(ChatMember.chat_id)
    )
    return list(rows)


async def get_chats_newest_first(session: AsyncSession, user_id: int) -> list[Chat]:
    """Every chat of the user, newest created first (the seed's chat list)."""
    rows = await session.scalars(
        select(Chat)
        .join(ChatMember, and_(ChatMember.chat_id == Chat.id, ChatMember.user_id == user_id))
        .order_by(Chat.created_at.desc(), Chat.id.desc())
    )
    return list(rows)


async def get_members(
    session: AsyncSession, user_id: int, chat_ids: Sequence[int]
) -> dict[int, list[MemberView]]:
    """Members of each given chat the user belongs to (others are left out), oldest first."""
    mine = set(
        await session.scalars(
            select(ChatMember.chat_id).where(
                ChatMember.user_id == user_id, ChatMember.chat_id.in_(chat_ids)
            )
        )
    )
    members: dict[int, list[MemberView]] = {chat_id: [] for chat_id in chat_ids if chat_id in mine}
    if not mine:
        return members
    rows = await session.execute(
        select(ChatMember, users.c.nickname)
        .join(users, users.c.id == ChatMember.user_id)
        .where(ChatMember.chat_id.in_(mine))
        .order_by(ChatMember.joined_at, ChatMember.user_id)
    )
    for member, nickname in rows:
        members[member.chat_id].append(
            MemberView(
                member.user_id,
                nickname,
                member.role,
                member.joined_at,
                member.last_read_message_id,
            )
        )
    return members
