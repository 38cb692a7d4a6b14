"""Direct chats: one-to-one conversations, at most one per pair of people, each named after the
other person on each side.

A direct chat is a chat row with `direct_pair` set ("<lower id>:<higher id>", unique), two
members and no owner actions: nobody adds, removes or renames (access.check_not_direct refuses with
`direct_chat`). Its stored name ("Alice & Bob") is what the REST chat list shows; every
other API names it per viewer (`with_peers`).
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chat_service.access import CHAT_COLUMNS, lock_chats
from chat_service.members import ROLE_MEMBER, check_nickname
from chat_service.unit_of_work import UnitOfWork
from chat_service.users import User, get_acting_user, get_user_by_nickname
from chat_service.views import Chat, Peer
from mychat.db import utc_now
from mychat.events import Event, EventKind
from mychat.http import ApiError
from mychat.tables import CHAT_NAME_MAX, chat_members, chats, users

_c, _cm, _u = chats.c, chat_members.c, users.c


def pair_key(first: int, second: int) -> str:
    low, high = sorted((first, second))
    return f"{low}:{high}"


def peer_id(pair: str, viewer_id: int) -> int:
    low, high = (int(part) for part in pair.split(":"))
    return high if low == viewer_id else low


_NICKNAMES = select(_u.id, _u.nickname).where(_u.id.in_(bindparam("ids", expanding=True)))


async def with_peers(connection: AsyncConnection, viewer_id: int, found: list[Chat]) -> list[Chat]:
    """The chats with each direct one's other person filled in (one statement, only when there
    is a direct chat among them)."""
    peers = {chat.id: peer_id(chat.direct_pair, viewer_id) for chat in found if chat.direct_pair}
    if not peers:
        return found
    rows = await connection.execute(_NICKNAMES, {"ids": sorted(set(peers.values()))})
    nicknames: dict[int, str] = {user_id: nickname for user_id, nickname in rows}
    return [
        replace(chat, peer=Peer(peers[chat.id], nicknames.get(peers[chat.id], "?")))
        if chat.id in peers
        else chat
        for chat in found
    ]


_BY_PAIR = select(*CHAT_COLUMNS).where(_c.direct_pair == bindparam("pair"))
_MEMBER_IDS = select(_cm.user_id).where(_cm.chat_id == bindparam("chat_id"))


def _stored_name(first: User, second: User) -> str:
    return f"{first.nickname} & {second.nickname}"[:CHAT_NAME_MAX]


async def do_start_direct_chat(work: UnitOfWork, user_id: int, nickname: str) -> tuple[Chat, bool]:
    """The direct chat between the caller and `nickname`, made if there is none yet; whether it
    was made now. Either of the two who had left it is a member again.

    Race-safe: two people starting it at once both insert the same `direct_pair`; the unique
    key lets one through, and the other (in a savepoint) reads the winner's row instead.
    """
    nickname = check_nickname(nickname)
    connection = work.connection
    me = await get_acting_user(connection, user_id)
    other = await get_user_by_nickname(connection, nickname)
    if other.id == me.id:
        raise ApiError(
            400, "validation_error", "A direct chat needs someone else", field="nickname"
        )
    pair = pair_key(me.id, other.id)
    row = (await connection.execute(_BY_PAIR, {"pair": pair})).first()
    created = False
    now = utc_now()
    if row is None:
        try:
            async with connection.begin_nested():
                await connection.execute(
                    insert(chats).values(
                        name=_stored_name(me, other),
                        created_by=me.id,
                        created_at=now,
                        last_activity_at=now,
                        direct_pair=pair,
                    )
                )
            created = True
        except IntegrityError:
            pass  # the other person started it at the same moment: theirs is the one
        # A locking read sees the latest committed row (the winner's), whatever this
        # transaction's snapshot. A shared lock: the duplicate-key check already holds one on
        # that index entry, and two losers each upgrading theirs would deadlock.
        row = (
            await connection.execute(_BY_PAIR.with_for_update(read=True), {"pair": pair})
        ).first()
        if row is None:  # pragma: no cover - the unique key held it a moment ago
            raise ApiError(409, "conflict", "Try again")
    else:
        # Already there: whoever left it comes back, under the chat's lock (lock_chats).
        await lock_chats(connection, [row[0]])
    chat = Chat.from_row(row, ROLE_MEMBER, 0)
    # A locking read: the latest members, even those the winner of a race committed after
    # this transaction's snapshot (shared: a race's losers hold shared locks on the chat).
    members = _MEMBER_IDS.with_for_update(read=True)
    present = set(await connection.scalars(members, {"chat_id": chat.id}))
    missing = [user for user in (me, other) if user.id not in present]
    if missing:
        await connection.execute(
            insert(chat_members),
            [
                {
                    "chat_id": chat.id,
                    "user_id": user.id,
                    "role": ROLE_MEMBER,
                    "joined_at": now,
                    "last_read_message_id": 0,
                }
                for user in missing
            ],
        )
    if created:
        work.emit(
            Event(
                EventKind.CHAT_CREATED,
                chat.id,
                {"chat": chat.to_event_json(), "member_ids": [me.id, other.id]},
            )
        )
    else:
        for user in missing:
            work.emit(
                Event(
                    EventKind.MEMBER_ADDED,
                    chat.id,
                    {"user": {"id": user.id, "nickname": user.nickname}, "added_by": me.id},
                )
            )
    return replace(chat, peer=Peer(other.id, other.nickname)), created
