"""System lines of a chat's history: "X joined", "X left", "X was removed", "the chat was renamed
to Y". Stored as messages with a `kind` (mychat.tables.messages), so they are in every history
page and catch-up, in id order with what people wrote, and survive a reload. They are nobody's
to edit, delete, react to or answer, never unread, and not in the seed's REST history.

The writer of the change adds its line in the same unit of work and puts it in its event
(`"line": message`), so subscribers show it without asking.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import insert

from chat_service.unit_of_work import UnitOfWork
from chat_service.views import MessageView
from mychat.db import utc_now
from mychat.tables import messages


class LineKind(StrEnum):
    JOINED = "joined"  # sender_id joined (was added)
    LEFT = "left"  # sender_id left
    REMOVED = "removed"  # sender_id was removed by the owner; text is the owner's nickname
    RENAMED = "renamed"  # sender_id renamed the chat; text is the new name


async def add_system_line(
    work: UnitOfWork, chat_id: int, kind: LineKind, user_id: int, nickname: str, text: str = ""
) -> MessageView:
    """Store one system line in the caller's unit of work (its chat is locked by the caller);
    it does not move the chat's last message or activity (the chat list shows what people
    wrote)."""
    now = utc_now()
    result = await work.connection.execute(
        insert(messages).values(
            chat_id=chat_id, sender_id=user_id, text=text, created_at=now, kind=kind.value
        )
    )
    (message_id,) = result.inserted_primary_key or (None,)
    assert message_id is not None
    return MessageView(message_id, chat_id, user_id, nickname, text, now, None, kind=kind.value)
