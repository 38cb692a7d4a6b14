"""Owner actions and direct chats in GraphQL: rename, remove a member, hand ownership on, and
start a one-to-one chat. Each returns a union of its payload and the typed errors it can meet."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gateway import described
from gateway.context import Context
from gateway.errors import (
    NotAllowed,
    NotAMember,
    NotFound,
    NotOwner,
    RateLimited,
    Unauthenticated,
    ValidationError,
)
from gateway.ids import InvalidGlobalId, database_id, to_global_id
from gateway.mutation_support import ChatGone, run_action
from gateway.queries import load_chat
from gateway.types import Chat, Member

Info = strawberry.Info[Context, None]


@strawberry.type
class RenameChatPayload:
    chat: Chat


@strawberry.type
class RemoveMemberPayload:
    chat: Chat
    user_id: strawberry.ID = strawberry.field(description="The User id of whoever was removed.")


@strawberry.type
class TransferOwnershipPayload:
    chat: Chat
    owner: Member = strawberry.field(description="The new owner.")


@strawberry.type
class StartDirectChatPayload:
    chat: Chat
    created: bool = strawberry.field(
        description="False when the two of you already had a direct chat (this is that one)."
    )


OWNER_ERRORS = (ValidationError, NotFound, NotAMember, NotOwner, NotAllowed, Unauthenticated)
RenameChatResult = Annotated[
    RenameChatPayload
    | ValidationError
    | NotFound
    | NotAMember
    | NotOwner
    | NotAllowed
    | Unauthenticated,
    strawberry.union("RenameChatResult"),
]
RemoveMemberResult = Annotated[
    RemoveMemberPayload
    | ValidationError
    | NotFound
    | NotAMember
    | NotOwner
    | NotAllowed
    | Unauthenticated,
    strawberry.union("RemoveMemberResult"),
]
TransferOwnershipResult = Annotated[
    TransferOwnershipPayload
    | ValidationError
    | NotFound
    | NotAMember
    | NotOwner
    | NotAllowed
    | Unauthenticated,
    strawberry.union("TransferOwnershipResult"),
]
StartDirectChatResult = Annotated[
    StartDirectChatPayload | ValidationError | NotFound | RateLimited | Unauthenticated,
    strawberry.union("StartDirectChatResult"),
]


async def _chat(info: Info, chat_id: int) -> Chat:
    info.context.reset_loaders()  # after a write: read the chat as it is now
    chat = await load_chat(info, chat_id)
    if chat is None:
        raise ChatGone
    return chat


def _user_id(user_id: strawberry.ID) -> int | ValidationError:
    try:
        return database_id(user_id, "User")
    except InvalidGlobalId:
        return ValidationError(message="Not a user id", code="validation_error", field="userId")


@strawberry.type
class OwnershipMutation:
    @described.mutation(
        "Rename a chat (its owner only; not a direct chat). Members get ChatRenamed."
    )
    async def rename_chat(self, info: Info, chat_id: strawberry.ID, name: str) -> RenameChatResult:
        async def action() -> RenameChatPayload:
            chat_db_id = database_id(chat_id, "Chat")
            await info.context.chat().rename_chat(chat_db_id, name)
            return RenameChatPayload(chat=await _chat(info, chat_db_id))

        result: RenameChatResult = await run_action(info, OWNER_ERRORS, action)
        return result

    @described.mutation(
        "Remove a member (the owner only; not yourself: leaveChat). They stop receiving the"
        " chat at once on every gateway (RemovedFromChat; messageAdded ends); the others get"
        " MemberRemoved."
    )
    async def remove_member(
        self, info: Info, chat_id: strawberry.ID, user_id: strawberry.ID
    ) -> RemoveMemberResult:
        async def action() -> RemoveMemberPayload | ValidationError:
            chat_db_id = database_id(chat_id, "Chat")
            user_db_id = _user_id(user_id)
            if isinstance(user_db_id, ValidationError):
                return user_db_id
            await info.context.chat().remove_member(chat_db_id, user_db_id)
            return RemoveMemberPayload(
                chat=await _chat(info, chat_db_id),
                user_id=strawberry.ID(to_global_id("User", user_db_id)),
            )

        result: RemoveMemberResult = await run_action(info, OWNER_ERRORS, action)
        return result

    @described.mutation(
        "Hand the chat on to another member (the owner only); you stay as a member. Members"
        " get OwnerChanged. When an owner leaves, the oldest member becomes owner the same way."
    )
    async def transfer_ownership(
        self, info: Info, chat_id: strawberry.ID, user_id: strawberry.ID
    ) -> TransferOwnershipResult:
        async def action() -> TransferOwnershipPayload | ValidationError:
            chat_db_id = database_id(chat_id, "Chat")
            user_db_id = _user_id(user_id)
            if isinstance(user_db_id, ValidationError):
                return user_db_id
            owner = await info.context.chat().transfer_ownership(chat_db_id, user_db_id)
            return TransferOwnershipPayload(
                chat=await _chat(info, chat_db_id), owner=Member.from_data(owner)
            )

        result: TransferOwnershipResult = await run_action(info, OWNER_ERRORS, action)
        return result

    @described.mutation(
        "The one-to-one chat with the person of this nickname: made the first time, the same"
        " one after (from either side); each of you sees it named after the other."
    )
    async def start_direct_chat(self, info: Info, nickname: str) -> StartDirectChatResult:
        async def action() -> StartDirectChatPayload:
            row, created = await info.context.chat().start_direct_chat(nickname)
            info.context.loaders.prime_chats([row])
            return StartDirectChatPayload(chat=Chat.from_data(row), created=created)

        errors = (ValidationError, NotFound, RateLimited, Unauthenticated)
        result: StartDirectChatResult = await run_action(info, errors, action)
        return result
