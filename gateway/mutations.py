"""Mutation root: each returns a union of its payload and the typed errors it can meet."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypeVar

import strawberry

from gateway import described
from gateway.accounts import AccountMutation
from gateway.clients import AuthData
from gateway.context import Context
from gateway.errors import (
    AlreadyAMember,
    Conflict,
    NotAllowed,
    NotAMember,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationError,
)
from gateway.ids import InvalidGlobalId, database_id, message_cursor_id, to_global_id
from gateway.message_mutations import MessageMutation
from gateway.mutation_support import ChatGone, run_action
from gateway.ownership import OwnershipMutation
from gateway.queries import load_chat
from gateway.types import Chat, Member, Message, Viewer

Info = strawberry.Info[Context, None]
T = TypeVar("T")


@strawberry.type
class AuthPayload:
    token: str
    user: Viewer
    expires_at: datetime


@strawberry.type
class CreateChatPayload:
    chat: Chat


@strawberry.type
class AddMemberPayload:
    chat: Chat
    member: Member


@strawberry.type
class LeaveChatPayload:
    chat_id: strawberry.ID


@strawberry.type
class SendMessagePayload:
    message: Message


@strawberry.type
class MarkReadPayload:
    chat: Chat


@strawberry.type
class SetTypingPayload:
    chat_id: strawberry.ID


AuthResult = Annotated[
    AuthPayload | ValidationError | Conflict | Unauthenticated | RateLimited,
    strawberry.union("AuthResult"),
]
CreateChatResult = Annotated[
    CreateChatPayload | ValidationError | NotFound | RateLimited | Unauthenticated,
    strawberry.union("CreateChatResult"),
]
AddMemberResult = Annotated[
    AddMemberPayload
    | ValidationError
    | NotFound
    | NotAMember
    | AlreadyAMember
    | NotAllowed
    | RateLimited
    | Unauthenticated,
    strawberry.union("AddMemberResult"),
]
LeaveChatResult = Annotated[
    LeaveChatPayload | NotFound | NotAMember | Unauthenticated,
    strawberry.union("LeaveChatResult"),
]
SendMessageResult = Annotated[
    SendMessagePayload | ValidationError | NotFound | NotAMember | RateLimited | Unauthenticated,
    strawberry.union("SendMessageResult"),
]
SetTypingResult = Annotated[
    SetTypingPayload | NotFound | NotAMember | RateLimited | Unauthenticated,
    strawberry.union("SetTypingResult"),
]
MarkReadResult = Annotated[
    MarkReadPayload | ValidationError | NotFound | NotAMember | Unauthenticated,
    strawberry.union("MarkReadResult"),
]


async def _visible_chat(info: Info, chat_id: int) -> Chat:
    chat = await load_chat(info, chat_id)
    if chat is None:
        raise ChatGone
    return chat


def _auth_payload(info: Info, data: AuthData) -> AuthPayload:
    claims = info.context.resources.tokens.verify(data["token"])
    return AuthPayload(
        token=data["token"], user=Viewer.from_data(data["user"]), expires_at=claims.expires_at
    )


AUTH_ERRORS = (ValidationError, Conflict, Unauthenticated, RateLimited)


@strawberry.type
class Mutation(AccountMutation, MessageMutation, OwnershipMutation):
    @described.mutation("Create an account; answers a token like login.")
    async def register(self, info: Info, login: str, password: str, nickname: str) -> AuthResult:
        async def action() -> AuthPayload:
            return _auth_payload(
                info, await info.context.auth().register(login, password, nickname)
            )

        result: AuthResult = await run_action(info, AUTH_ERRORS, action, needs_viewer=False)
        return result

    @strawberry.mutation
    async def login(self, info: Info, login: str, password: str) -> AuthResult:
        async def action() -> AuthPayload:
            return _auth_payload(info, await info.context.auth().login(login, password))

        result: AuthResult = await run_action(info, AUTH_ERRORS, action, needs_viewer=False)
        return result

    @described.mutation("A new chat with you as owner and the named members.")
    async def create_chat(
        self, info: Info, name: str, member_nicknames: list[str] | None = None
    ) -> CreateChatResult:
        async def action() -> CreateChatPayload:
            row = await info.context.chat().create_chat(name, member_nicknames or [])
            return CreateChatPayload(chat=Chat.from_data(row))

        errors = (ValidationError, NotFound, RateLimited, Unauthenticated)
        result: CreateChatResult = await run_action(info, errors, action)
        return result

    @strawberry.mutation
    async def add_member(
        self, info: Info, chat_id: strawberry.ID, nickname: str
    ) -> AddMemberResult:
        async def action() -> AddMemberPayload:
            chat_db_id = database_id(chat_id, "Chat")
            member = await info.context.chat().add_member(chat_db_id, nickname)
            return AddMemberPayload(
                chat=await _visible_chat(info, chat_db_id), member=Member.from_data(member)
            )

        errors = (
            ValidationError,
            NotFound,
            NotAMember,
            AlreadyAMember,
            NotAllowed,
            RateLimited,
            Unauthenticated,
        )
        result: AddMemberResult = await run_action(info, errors, action)
        return result

    @strawberry.mutation
    async def leave_chat(self, info: Info, chat_id: strawberry.ID) -> LeaveChatResult:
        async def action() -> LeaveChatPayload:
            chat_db_id = database_id(chat_id, "Chat")
            await info.context.chat().leave(chat_db_id)
            return LeaveChatPayload(chat_id=strawberry.ID(to_global_id("Chat", chat_db_id)))

        result: LeaveChatResult = await run_action(
            info, (NotFound, NotAMember, Unauthenticated), action
        )
        return result

    @described.mutation(
        "Send; the same clientId twice sends once (safe retries). `replyTo`: the id of a"
        " message of the same chat this one answers (else NotFound with field replyTo)."
    )
    async def send_message(
        self,
        info: Info,
        chat_id: strawberry.ID,
        text: str,
        client_id: str | None = None,
        reply_to: strawberry.ID | None = None,
    ) -> SendMessageResult:
        async def action() -> SendMessagePayload | NotFound:
            chat_db_id = database_id(chat_id, "Chat")
            reply_to_id = None
            if reply_to is not None:
                try:
                    reply_to_id = message_cursor_id(reply_to)
                except InvalidGlobalId:
                    return NotFound(message="Message not found", code="not_found")
            client = info.context.chat()
            row = await client.send_message(chat_db_id, text, client_id, reply_to_id)
            return SendMessagePayload(message=Message.from_data(row))

        errors = (ValidationError, NotFound, NotAMember, RateLimited, Unauthenticated)
        result: SendMessageResult = await run_action(info, errors, action)
        return result

    @described.mutation(
        "Tell the chat's other members you are typing (send at most every 3 s while typing,"
        " and typing: false when you stop); rate-limited."
    )
    async def set_typing(
        self, info: Info, chat_id: strawberry.ID, typing: bool = True
    ) -> SetTypingResult:
        async def action() -> SetTypingPayload:
            chat_db_id = database_id(chat_id, "Chat")
            await info.context.chat().typing(chat_db_id, typing)
            return SetTypingPayload(chat_id=strawberry.ID(to_global_id("Chat", chat_db_id)))

        errors = (NotFound, NotAMember, RateLimited, Unauthenticated)
        result: SetTypingResult = await run_action(info, errors, action)
        return result

    @described.mutation("Mark messages up to messageId as read.")
    async def mark_read(
        self, info: Info, chat_id: strawberry.ID, message_id: strawberry.ID
    ) -> MarkReadResult:
        async def action() -> MarkReadPayload | ValidationError:
            chat_db_id = database_id(chat_id, "Chat")
            try:
                message_db_id = message_cursor_id(message_id)
            except InvalidGlobalId:
                return ValidationError(
                    message="Not a message id", code="validation_error", field="messageId"
                )
            chat = await info.context.mark_read(chat_db_id, message_db_id)
            return MarkReadPayload(chat=Chat.from_data(chat))

        errors = (ValidationError, NotFound, NotAMember, Unauthenticated)
        result: MarkReadResult = await run_action(info, errors, action)
        return result
