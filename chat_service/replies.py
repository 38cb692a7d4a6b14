"""Replies: the quote a reply shows of the message it answers (its sender and first line).

A reply stores only `messages.reply_to_id`; the quote is read with the reply (one statement for
a whole page, and only when the page has replies), so it always shows the original as it is now:
its latest edit, or its tombstone once deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chat_service.views import MessageView, Quote
from mychat.http import ApiError
from mychat.tables import messages, users

QUOTE_MAX = 200  # characters of the first line

_m, _u = messages.c, users.c
_QUOTES = (
    select(_m.id, _m.chat_id, _m.sender_id, _u.nickname, _m.text, _m.deleted_at, _m.kind)
    .join(users, _u.id == _m.sender_id)
    .where(_m.id.in_(bindparam("ids", expanding=True)))
)


def first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0].strip()
    return line if len(line) <= QUOTE_MAX else line[: QUOTE_MAX - 1] + "…"


def _quote(
    id_: int, sender_id: int, nickname: str, text: str, deleted_at: datetime | None
) -> Quote:
    return Quote(id_, sender_id, nickname, first_line(text), deleted_at)


async def quote_for_reply(connection: AsyncConnection, chat_id: int, message_id: int) -> Quote:
    """The quote of the message a new reply answers; 404 unless it is in the same chat."""
    row = (await connection.execute(_QUOTES, {"ids": [message_id]})).first()
    if row is None or row.chat_id != chat_id or row.kind is not None:
        raise ApiError(
            404, "not_found", "The message to reply to is not in this chat", field="reply_to_id"
        )
    return _quote(row.id, row.sender_id, row.nickname, row.text, row.deleted_at)


async def attach_quotes(
    connection: AsyncConnection, views: Sequence[MessageView]
) -> list[MessageView]:
    """The messages with the quotes of those that are replies (one statement, if any)."""
    wanted = {view.reply_to_id for view in views if view.reply_to_id is not None}
    if not wanted:
        return list(views)
    rows = await connection.execute(_QUOTES, {"ids": sorted(wanted)})
    quotes = {
        row.id: _quote(row.id, row.sender_id, row.nickname, row.text, row.deleted_at)
        for row in rows
    }
    return [
        view if view.reply_to_id is None else view.with_reply_to(quotes.get(view.reply_to_id))
        for view in views
    ]
