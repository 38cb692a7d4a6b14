"""Editing and deleting one's own message.

Both lock the chat's row first (access.lock_chats, the one way a writer locks a chat), then read
the message with a locking read (the latest committed row, not the transaction's snapshot), so
two edits, an edit and a delete, or a delete and a leave are serialised. Refusals: 404 unknown
message (or one in a chat the caller cannot see), 403 not a member / not the author, 409 deleted
already, 400 bad text. A delete erases the text ('') and keeps the row as a tombstone, so the
history still reads and the words are gone from the database (and from `message_search`: an
edit rewrites the message's search row, a delete empties it; either writes the row if the search
indexer has not yet, so that its late batch cannot bring the old words back:
chat_service/indexing.py).
"""

from __future__ import annotations

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chat_service.access import access_chat_for_user, message_not_found
from chat_service.indexing import write_words
from chat_service.messages import MESSAGE_COLUMNS, message_from_row
from chat_service.reactions import attach_reactions
from chat_service.replies import attach_quotes
from chat_service.sending import check_message_text
from chat_service.unit_of_work import UnitOfWork
from chat_service.views import MessageView
from mychat.db import utc_now
from mychat.events import Event, EventKind
from mychat.http import ApiError
from mychat.tables import message_reactions, messages

_m = messages.c

_CHAT_OF = select(_m.chat_id).where(_m.id == bindparam("message_id"))
_LOCKED = (
    select(_m.sender_id, _m.deleted_at, _m.kind)
    .where(_m.id == bindparam("message_id"))
    .with_for_update()
)
_MESSAGE = select(*MESSAGE_COLUMNS).where(_m.id == bindparam("message_id"))


async def _own_message(work: UnitOfWork, message_id: int, user_id: int) -> int:
    """The chat of the caller's own, not deleted message, with the chat and message locked."""
    connection = work.connection
    chat_id = await connection.scalar(_CHAT_OF, {"message_id": message_id})
    if chat_id is None:
        raise message_not_found()
    await access_chat_for_user(connection, chat_id, user_id, lock=True)  # 403 not a member
    row = (await connection.execute(_LOCKED, {"message_id": message_id})).one()
    sender_id, deleted_at, kind = row
    if kind is not None:  # a system line ("X joined") is nobody's to change
        raise message_not_found()
    if sender_id != user_id:
        raise ApiError(403, "not_the_author", "Only the author can change this message")
    if deleted_at is not None:
        raise ApiError(409, "already_deleted", "This message was deleted", field="message_id")
    return int(chat_id)


async def _changed(work: UnitOfWork, kind: EventKind, chat_id: int, message_id: int) -> MessageView:
    """The message as stored now, and its event (the whole message: subscribers need no call)."""
    connection: AsyncConnection = work.connection
    row = (await connection.execute(_MESSAGE, {"message_id": message_id})).one()
    (message,) = await attach_reactions(connection, [message_from_row(row)])
    (message,) = await attach_quotes(connection, [message])
    work.emit(Event(kind, chat_id, {"message": message.to_json()}))
    return message


async def do_edit_message(
    work: UnitOfWork, message_id: int, user_id: int, text: str
) -> MessageView:
    """Replace the text of the caller's own message and mark it edited (same limits as a send)."""
    text = check_message_text(text)
    chat_id = await _own_message(work, message_id, user_id)
    await work.connection.execute(
        update(messages).where(_m.id == message_id).values(text=text, edited_at=utc_now())
    )
    await write_words(work.connection, chat_id, message_id, text)
    return await _changed(work, EventKind.MESSAGE_EDITED, chat_id, message_id)


async def do_delete_message(work: UnitOfWork, message_id: int, user_id: int) -> MessageView:
    """Delete the caller's own message for everyone: the text is erased, a tombstone stays."""
    chat_id = await _own_message(work, message_id, user_id)
    await work.connection.execute(
        update(messages).where(_m.id == message_id).values(text="", deleted_at=utc_now())
    )
    await write_words(work.connection, chat_id, message_id, "")  # nothing left to find
    # A tombstone has no reactions.
    await work.connection.execute(
        delete(message_reactions).where(message_reactions.c.message_id == message_id)
    )
    return await _changed(work, EventKind.MESSAGE_DELETED, chat_id, message_id)
