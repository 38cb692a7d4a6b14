"""The owner actions' live events as chatEvents shows them: ChatRenamed, MemberRemoved (or
RemovedFromChat for the removed person) and OwnerChanged. Each is built from the event's own
data (who, by whom, the new name), once per process (shared_events)."""

from __future__ import annotations

from typing import Any

import strawberry

from gateway.context import Context
from gateway.ids import to_global_id
from gateway.types import Message, User
from mychat.events import Event, EventKind

OWNER_KINDS = frozenset({EventKind.CHAT_RENAMED, EventKind.MEMBER_REMOVED, EventKind.OWNER_CHANGED})


def _user(data: dict[str, Any]) -> User:
    return User.build(int(data["id"]), str(data["nickname"]))


def system_line(payload: dict[str, Any]) -> Message | None:
    """The stored system line an event carries (mychat.events), as a Message."""
    row = payload.get("line")
    return None if row is None else Message.from_data(row)


def _chat_id(chat_id: int) -> strawberry.ID:
    return strawberry.ID(to_global_id("Chat", chat_id))


@strawberry.type(description="The owner renamed the chat.")
class ChatRenamed:
    chat_id: strawberry.ID
    name: str
    previous_name: str
    by: User
    line: Message | None = strawberry.field(
        default=None, description='The system line "the chat was renamed" in the history.'
    )


@strawberry.type(description="The owner removed someone else from the chat.")
class MemberRemoved:
    chat_id: strawberry.ID
    user: User
    by: User
    line: Message | None = strawberry.field(
        default=None, description='The system line "X was removed" in the history.'
    )


@strawberry.type(
    description="The chat has a new owner: handed on (`reason: handed_on`) or the owner left"
    " (`owner_left`, the oldest member takes over)."
)
class OwnerChanged:
    chat_id: strawberry.ID
    owner: User
    previous_owner: User
    reason: str


OwnerEvent = ChatRenamed | MemberRemoved | OwnerChanged


def removes_viewer(event: Event, me: int) -> bool:
    """Whether this event takes the viewer out of its chat (they were removed)."""
    return event.kind is EventKind.MEMBER_REMOVED and event.payload["user"]["id"] == me


def owner_event(context: Context, event: Event) -> OwnerEvent | None:
    """The GraphQL object for an owner action's event (the caller is a member of its chat)."""
    payload, chat_id = event.payload, event.chat_id
    if event.kind is EventKind.CHAT_RENAMED:
        return context.shared_events.object_for(
            "ChatRenamed",
            payload,
            lambda: ChatRenamed(
                chat_id=_chat_id(chat_id),
                name=str(payload["chat"]["name"]),
                previous_name=str(payload["previous_name"]),
                by=_user(payload["by"]),
                line=system_line(payload),
            ),
        )
    if event.kind is EventKind.MEMBER_REMOVED:
        return context.shared_events.object_for(
            "MemberRemoved",
            payload,
            lambda: MemberRemoved(
                chat_id=_chat_id(chat_id),
                user=_user(payload["user"]),
                by=_user(payload["by"]),
                line=system_line(payload),
            ),
        )
    if event.kind is EventKind.OWNER_CHANGED:
        return context.shared_events.object_for(
            "OwnerChanged",
            payload,
            lambda: OwnerChanged(
                chat_id=_chat_id(chat_id),
                owner=_user(payload["owner"]),
                previous_owner=_user(payload["previous_owner"]),
                reason=str(payload["reason"]),
            ),
        )
    return None
