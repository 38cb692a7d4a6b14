"""Read models the domain functions return, and their JSON shapes (internal, seed, events)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from chat_service.models import Chat


def iso(moment: datetime) -> str:
    """ISO 8601 with the UTC offset spelled out (+00:00), as every API output uses."""
    return moment.isoformat()


class MessageView(NamedTuple):
    """A message as every API shows it (a NamedTuple: a page builds up to 500 of them)."""

    id: int
    chat_id: int
    sender_id: int
    sender_nickname: str
    text: str
    created_at: datetime
    client_id: str | None

    def to_response(self) -> dict[str, Any]:
        """The internal API's message for a JSON response: `created_at` stays a datetime, which
        orjson (mychat.http.JSONResponse) writes exactly as `iso` does, without a Python call
        per message."""
        return {
            "id": self.id,
            "chat_id": self.chat_id,
            "sender_id": self.sender_id,
            "sender_nickname": self.sender_nickname,
            "text": self.text,
            "created_at": self.created_at,
            "client_id": self.client_id,
        }

    def to_json(self) -> dict[str, Any]:
        """The internal API's message as plain JSON values (event payloads)."""
        return {**self.to_response(), "created_at": iso(self.created_at)}

    def to_seed_json(self) -> dict[str, Any]:
        """The seed's history item (`date_sent` instead of `created_at`), for a JSON response."""
        return {
            "id": self.id,
            "chat_id": self.chat_id,
            "sender_id": self.sender_id,
            "sender_nickname": self.sender_nickname,
            "text": self.text,
            "date_sent": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class MemberView:
    user_id: int
    nickname: str
    role: str
    joined_at: datetime
    # The last message id this member has read (read receipts); 0 for none.
    last_read_message_id: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "nickname": self.nickname,
            "role": self.role,
            "joined_at": iso(self.joined_at),
            "last_read_message_id": self.last_read_message_id,
        }


class ChatRow(NamedTuple):
    """A chat's columns read with Core (hot read paths), shaped like the Chat model."""

    id: int
    name: str
    created_at: datetime
    created_by: int | None
    last_activity_at: datetime
    last_message_id: int | None


@dataclass(frozen=True, slots=True)
class ChatView:
    """A chat as one member sees it."""

    chat: Chat | ChatRow
    my_role: str
    unread_count: int | None  # None when the caller did not ask for it

    def to_json(self) -> dict[str, Any]:
        chat = self.chat
        return {
            "id": chat.id,
            "name": chat.name,
            "created_at": iso(chat.created_at),
            "created_by": chat.created_by,
            "last_activity_at": iso(chat.last_activity_at),
            "last_message_id": chat.last_message_id,
            "my_role": self.my_role,
            "unread_count": self.unread_count,
        }


def seed_chat_json(chat: Chat) -> dict[str, Any]:
    """The seed's chat list item."""
    return {"id": chat.id, "name": chat.name, "date_added": iso(chat.created_at)}


def event_chat_json(chat: Chat) -> dict[str, Any]:
    return {
        "id": chat.id,
        "name": chat.name,
        "created_at": iso(chat.created_at),
        "created_by": chat.created_by,
    }
