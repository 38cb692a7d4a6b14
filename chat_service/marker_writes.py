"""Read markers moved forward many at once, in one unit of work: `move_markers`.

chat_service.read_markers decides when a reader's marker is written (at most every 2 seconds);
this writes the markers due at one moment. First the chats' row locks (chat_service.access.
lock_chats), as every writer of a chat's members or messages takes them: a send reads the
members with a locking read under the same lock, and without it the two deadlocked on MariaDB
(the send failed with 1213). Then per chat: one statement reads every reader's access
(chat_service.access.access_for_users); per distinct target (readers of a busy chat mostly mark
the same newest message) one UPDATE moves all their markers, and one statement finds who sent
what the markers moved past. Written one reader at a time, each marker cost three statements:
at 1,000 viewers of a busy chat that was most of chat_service's work (bench/PROFILE.md, "The
read markers' writes, batched").

Each moved marker is announced by a `messages_read` event after the commit (read receipts; the
reader's other devices), to the reader and to the members who sent a message it moved past:
nobody else's view depends on it, so a chat's other members are not told (with every member
reading, telling all would be O(members^2)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, func, select, update

from chat_service.access import access_for_users, lock_chats
from chat_service.unit_of_work import UnitOfWork
from mychat.events import Event, EventKind
from mychat.http import ApiError
from mychat.tables import chat_members, messages

_m, _cm = messages.c, chat_members.c

# (Parameters of an UPDATE may not share a column's name.)
_MOVE = (
    update(chat_members)
    .where(
        _cm.chat_id == bindparam("in_chat"),
        _cm.user_id.in_(bindparam("readers", expanding=True)),
        _cm.last_read_message_id < bindparam("target"),
    )
    .values(last_read_message_id=bindparam("target"))
)

# Per current member who sent a message in (after, upto]: their newest one there. System lines
# count: the web app's "Seen by" sits under the viewer's newest line of the chat with them as
# sender, which may be one (web/src/views/chatSignals.js). A removed sender learns nothing.
_NEWEST_BY_SENDER = (
    select(_m.sender_id, func.max(_m.id))
    .join(chat_members, and_(_cm.chat_id == _m.chat_id, _cm.user_id == _m.sender_id))
    .where(
        _m.chat_id == bindparam("chat_id"),
        _m.id > bindparam("after"),
        _m.id <= bindparam("upto"),
    )
    .group_by(_m.sender_id)
)


@dataclass(frozen=True, slots=True)
class MarkerDue:
    chat_id: int
    user_id: int
    message_id: int  # the marker asked for (never moved back, nor past the chat's newest)
    # The gateway connection that asked, when every mark this write carries came from it: its
    # event says so, and that connection, answered already, is not sent its own echo.
    origin: str | None = None


@dataclass(frozen=True, slots=True)
class _Move:
    user_id: int
    nickname: str
    previous: int
    target: int
    origin: str | None


async def move_markers(work: UnitOfWork, due: Sequence[MarkerDue]) -> int:
    """Move each reader's marker forward to what it asked for, capped at the chat's newest
    message; a reader who left meanwhile is skipped. The readers whose access was found (moved
    or already there)."""
    await lock_chats(work.connection, sorted({asked.chat_id for asked in due}))
    found = await access_for_users(work.connection, [(d.chat_id, d.user_id) for d in due])
    moves: dict[tuple[int, int], list[_Move]] = {}  # by (chat, target)
    members = 0
    for asked in due:
        access = found[(asked.chat_id, asked.user_id)]
        if isinstance(access, ApiError):
            continue
        members += 1
        target = min(asked.message_id, access.chat.last_message_id or 0)
        if target > access.last_read_message_id:
            move = _Move(
                asked.user_id, access.nickname, access.last_read_message_id, target, asked.origin
            )
            moves.setdefault((asked.chat_id, target), []).append(move)
    for (chat_id, target), group in sorted(moves.items()):
        await _move_group(work, chat_id, target, group)
    return members


async def _move_group(work: UnitOfWork, chat_id: int, target: int, group: list[_Move]) -> None:
    """The markers of `group` (readers of one chat) moved to `target`, each announced."""
    user_ids = sorted(move.user_id for move in group)
    params = {"in_chat": chat_id, "readers": user_ids, "target": target}
    await work.connection.execute(_MOVE, params)
    # A sender is told by a reader if they sent a message after the reader's old marker and up
    # to the target: their newest message up to the target is after that marker.
    after = min(move.previous for move in group)
    rows = await work.connection.execute(
        _NEWEST_BY_SENDER, {"chat_id": chat_id, "after": after, "upto": target}
    )
    newest_by_sender: dict[int, int] = {sender: newest for sender, newest in rows}
    for move in group:
        senders = {sender for sender, newest in newest_by_sender.items() if newest > move.previous}
        payload = {
            "user": {"id": move.user_id, "nickname": move.nickname},
            "last_read_message_id": target,
        }
        if move.origin is not None:
            payload["origin"] = move.origin
        work.emit(
            Event(
                EventKind.MESSAGES_READ,
                chat_id,
                payload,
                recipients=frozenset({move.user_id, *senders}),
            )
        )
