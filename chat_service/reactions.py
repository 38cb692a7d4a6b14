"""Reactions: any emoji, toggled per person on a message of a chat they are in.

A toggle locks the chat's row (access.lock_chats, like every writer of a chat), checks the
message (in that chat, not deleted), then deletes the person's row for that emoji or inserts it.
Its event carries the message with its whole reaction summary (who reacted with what), so a
subscription shows it without asking for anything.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chat_service.access import access_chat_for_user, message_not_found
from chat_service.messages import MESSAGE_COLUMNS, message_from_row
from chat_service.replies import attach_quotes
from chat_service.unit_of_work import UnitOfWork
from chat_service.views import MessageView, Reaction
from mychat.db import utc_now
from mychat.events import Event, EventKind
from mychat.http import ApiError
from mychat.tables import REACTION_MAX, message_reactions, messages, users

# Distinct emoji one person may have on one message (a toggle past it is refused).
REACTIONS_PER_PERSON = 20

_m, _r, _u = messages.c, message_reactions.c, users.c

# Code points an emoji is made of: pictographs (with flags' regional indicators and skin tones),
# and what joins or qualifies them. A reaction needs one pictograph at least.
_PICTOGRAPHS = (
    (0x1F000, 0x1FAFF),
    (0x2600, 0x27BF),
    (0x2300, 0x23FF),
    (0x2B00, 0x2BFF),
    (0x2190, 0x21FF),
    (0x25A0, 0x25FF),
    (0x2900, 0x297F),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3297),
    (0x3299, 0x3299),
    (0x00A9, 0x00A9),
    (0x00AE, 0x00AE),
    (0x203C, 0x203C),
    (0x2049, 0x2049),
    (0x2122, 0x2122),
    (0x2139, 0x2139),
    (0x24C2, 0x24C2),
)
_JOINERS = frozenset({0x200D, 0xFE0E, 0xFE0F, 0x20E3})
_TAGS = (0xE0020, 0xE007F)  # subdivision flags
_KEYCAP_BASES = frozenset("0123456789#*")


def _pictograph(code: int) -> bool:
    return any(low <= code <= high for low, high in _PICTOGRAPHS)


def check_emoji(value: str) -> str:
    """The emoji, or a 400 (`field: "emoji"`): 1 to REACTION_MAX code points of emoji only."""
    emoji = value.strip()
    invalid = ApiError(400, "validation_error", "A reaction is one emoji", field="emoji")
    if not emoji or len(emoji) > REACTION_MAX:
        raise invalid
    codes = [ord(char) for char in emoji]
    keycap = len(codes) >= 2 and emoji[0] in _KEYCAP_BASES and codes[-1] == 0x20E3
    for index, code in enumerate(codes):
        if _pictograph(code) or _TAGS[0] <= code <= _TAGS[1]:
            continue
        if code in _JOINERS and index > 0:
            continue
        if keycap and index == 0:
            continue
        raise invalid
    if not keycap and not any(_pictograph(code) for code in codes):
        raise invalid
    return emoji


_MESSAGE = select(_m.chat_id, _m.deleted_at, _m.kind).where(_m.id == bindparam("message_id"))
_MINE = (
    select(func.count())
    .select_from(message_reactions)
    .where(_r.message_id == bindparam("message_id"), _r.user_id == bindparam("user_id"))
)
_BY_ID = select(*MESSAGE_COLUMNS).where(_m.id == bindparam("message_id"))


async def do_toggle_reaction(
    work: UnitOfWork, message_id: int, user_id: int, emoji: str
) -> MessageView:
    """Add the caller's reaction, or take it back if it is there; the message as it is now."""
    emoji = check_emoji(emoji)
    connection = work.connection
    found = (await connection.execute(_MESSAGE, {"message_id": message_id})).first()
    if found is None or found.kind is not None:  # system lines take no reactions
        raise message_not_found()
    chat_id = int(found.chat_id)
    await access_chat_for_user(connection, chat_id, user_id, lock=True)  # 403 not a member
    # Read again under the chat's lock (a delete takes it too): the latest state.
    if (await connection.execute(_MESSAGE, {"message_id": message_id})).one().deleted_at:
        raise ApiError(409, "already_deleted", "This message was deleted", field="message_id")
    mine = (
        _r.message_id == message_id,
        _r.user_id == user_id,
        _r.emoji == emoji,
    )
    removed = await connection.execute(delete(message_reactions).where(*mine))
    if not removed.rowcount:
        count = await connection.scalar(_MINE, {"message_id": message_id, "user_id": user_id})
        if (count or 0) >= REACTIONS_PER_PERSON:
            raise ApiError(
                400,
                "validation_error",
                f"At most {REACTIONS_PER_PERSON} different reactions on one message",
                field="emoji",
            )
        await connection.execute(
            insert(message_reactions).values(
                message_id=message_id, user_id=user_id, emoji=emoji, created_at=utc_now()
            )
        )
    row = (await connection.execute(_BY_ID, {"message_id": message_id})).one()
    (message,) = await attach_reactions(connection, [message_from_row(row)])
    (message,) = await attach_quotes(connection, [message])
    work.emit(Event(EventKind.REACTIONS_CHANGED, chat_id, {"message": message.to_json()}))
    return message


_SUMMARY = (
    select(_r.message_id, _r.emoji, _r.user_id, _u.nickname)
    .join(users, _u.id == _r.user_id)
    .where(_r.message_id.in_(bindparam("ids", expanding=True)))
    .order_by(_r.message_id, _r.created_at, _r.user_id)
)


async def attach_reactions(
    connection: AsyncConnection, views: Sequence[MessageView]
) -> list[MessageView]:
    """The messages with their reactions: per emoji (in the order first used), who reacted."""
    if not views:
        return []
    rows = await connection.execute(_SUMMARY, {"ids": [view.id for view in views]})
    grouped: dict[int, dict[str, list[tuple[int, str]]]] = {}
    for message_id, emoji, user_id, nickname in rows:
        grouped.setdefault(message_id, {}).setdefault(emoji, []).append((user_id, nickname))
    if not grouped:
        return list(views)
    return [
        view
        if view.id not in grouped
        else view.with_reactions(
            tuple(Reaction(emoji, tuple(people)) for emoji, people in grouped[view.id].items())
        )
        for view in views
    ]
