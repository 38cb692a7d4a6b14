"""Mutations on one message: edit and delete your own (chat_service.edits does the checks)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry

from gateway import described
from gateway.clients import MessageData
from gateway.context import Context
from gateway.errors import (
    AlreadyDeleted,
    Error,
    NotAMember,
    NotFound,
    NotTheAuthor,
    RateLimited,
    Unauthenticated,
    ValidationError,
)
from gateway.ids import InvalidGlobalId, message_cursor_id
from gateway.mutation_support import run_action
from gateway.types import Message

Info = strawberry.Info[Context, None]


@strawberry.type(description="The message as stored after the change.")
class MessagePayload:
    message: Message


EditMessageResult = Annotated[
    MessagePayload
    | ValidationError
    | NotFound
    | NotAMember
    | NotTheAuthor
    | AlreadyDeleted
    | RateLimited
    | Unauthenticated,
    strawberry.union("EditMessageResult"),
]
DeleteMessageResult = Annotated[
    MessagePayload | NotFound | NotAMember | NotTheAuthor | AlreadyDeleted | Unauthenticated,
    strawberry.union("DeleteMessageResult"),
]

ToggleReactionResult = Annotated[
    MessagePayload
    | ValidationError
    | NotFound
    | NotAMember
    | AlreadyDeleted
    | RateLimited
    | Unauthenticated,
    strawberry.union("ToggleReactionResult"),
]
_REACTION_ERRORS: tuple[type[Error], ...] = (
    ValidationError,
    NotFound,
    NotAMember,
    AlreadyDeleted,
    RateLimited,
    Unauthenticated,
)

_EDIT_ERRORS: tuple[type[Error], ...] = (
    ValidationError,
    NotFound,
    NotAMember,
    NotTheAuthor,
    AlreadyDeleted,
    RateLimited,
    Unauthenticated,
)
_DELETE_ERRORS: tuple[type[Error], ...] = (
    NotFound,
    NotAMember,
    NotTheAuthor,
    AlreadyDeleted,
    Unauthenticated,
)


def _unknown_message() -> NotFound:
    return NotFound(message="Message not found", code="not_found")


async def _on_message(
    info: Info,
    message_id: strawberry.ID,
    errors: tuple[type[Error], ...],
    change: Callable[[int], Awaitable[MessageData]],
) -> Any:
    """Run `change` on the message's database id; its payload or a typed error."""

    async def action() -> MessagePayload | NotFound:
        try:
            message_db_id = message_cursor_id(message_id)
        except InvalidGlobalId:
            return _unknown_message()
        return MessagePayload(message=Message.from_data(await change(message_db_id)))

    return await run_action(info, errors, action)


@strawberry.type
class MessageMutation:
    @described.mutation(
        "Replace the text of your own message (limits as for sending); it shows `editedAt`."
        " Members see it live (chatEvents' MessageEdited, messageAdded again)."
    )
    async def edit_message(
        self, info: Info, message_id: strawberry.ID, text: str
    ) -> EditMessageResult:
        async def change(message_db_id: int) -> MessageData:
            return await info.context.chat().edit_message(message_db_id, text)

        result: EditMessageResult = await _on_message(info, message_id, _EDIT_ERRORS, change)
        return result

    @described.mutation(
        "Delete your own message for everyone: its text is erased and a tombstone (`deletedAt`)"
        " stays in the history. Members see it live (chatEvents' MessageDeleted)."
    )
    async def delete_message(self, info: Info, message_id: strawberry.ID) -> DeleteMessageResult:
        async def change(message_db_id: int) -> MessageData:
            return await info.context.chat().delete_message(message_db_id)

        result: DeleteMessageResult = await _on_message(info, message_id, _DELETE_ERRORS, change)
        return result

    @described.mutation(
        "Add your reaction (one emoji: up to 16 code points of emoji, ZWJ sequences and flags"
        " included) to a message of a chat you are in, or take it back if it is there; at most"
        " 20 different ones on a message. Members see it live (chatEvents' ReactionsChanged)."
    )
    async def toggle_reaction(
        self, info: Info, message_id: strawberry.ID, emoji: str
    ) -> ToggleReactionResult:
        async def change(message_db_id: int) -> MessageData:
            return await info.context.chat().toggle_reaction(message_db_id, emoji)

        result: ToggleReactionResult = await _on_message(info, message_id, _REACTION_ERRORS, change)
        return result
