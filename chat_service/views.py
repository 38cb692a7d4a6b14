"""Read models the domain functions return, and their JSON shapes (internal, seed, events)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple


def iso(moment: datetime) -> str:
    """ISO 8601 with the UTC offset spelled out (+00:00), as every API output uses."""
    return moment.isoformat()


class Quote(NamedTuple):
    """What a reply shows of the message it answers: its sender and first line (a tombstone's
    text is "")."""

    id: int
    sender_id: int
    sender_nickname: str
    text: str
    deleted_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sender_id": self.sender_id,
            "sender_nickname": self.sender_nickname,
            "text": self.text,
            "deleted_at": None if self.deleted_at is None else iso(self.deleted_at),
        }


class Reaction(NamedTuple):
    """One emoji on a message and who reacted with it ((user id, nickname), first first)."""

    emoji: str
    users: tuple[tuple[int, str], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "emoji": self.emoji,
            "count": len(self.users),
            "users": [{"id": user_id, "nickname": nickname} for user_id, nickname in self.users],
        }


class MessageView(NamedTuple):
    """A message as every API shows it (a NamedTuple: a page builds up to 500 of them)."""

    id: int
    chat_id: int
    sender_id: int
    sender_nickname: str
    text: str
    created_at: datetime
    client_id: str | None
    edited_at: datetime | None = None  # the last edit (chat_service.edits)
    deleted_at: datetime | None = None  # deleted: `text` is "" (a tombstone)
    reply_to_id: int | None = None  # the message this one answers
    reply_to: Quote | None = None  # its quote (chat_service.replies.attach_quotes)
    # Per emoji, who reacted (chat_service.reactions.attach_reactions; the internal API only).
    reactions: tuple[Reaction, ...] = ()
    kind: str | None = None  # None: written by someone; else a system line (system_lines.py)

    def with_reply_to(self, quote: Quote | None) -> MessageView:
        return MessageView(*self[:10], quote, self.reactions, self.kind)

    def with_reactions(self, reactions: tuple[Reaction, ...]) -> MessageView:
        return MessageView(*self[:10], self.reply_to, reactions, self.kind)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> MessageView:
        """From a row of the stored columns in order (id .. reply_to_id, kind); the quote and
        the reactions are attached later."""
        id_, chat_id, sender_id, nickname, text, at, client_id, edited, deleted, reply_to, kind = (
            row
        )
        return cls(
            id_,
            chat_id,
            sender_id,
            nickname,
            text,
            at,
            client_id,
            edited,
            deleted,
            reply_to,
            kind=kind,
        )

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
            "edited_at": self.edited_at,
            "deleted_at": self.deleted_at,
            "reply_to": None if self.reply_to is None else self.reply_to.to_json(),
            "reactions": [reaction.to_json() for reaction in self.reactions],
            "kind": self.kind,
        }

    def to_json(self) -> dict[str, Any]:
        """The internal API's message as plain JSON values (event payloads)."""
        return {
            **self.to_response(),
            "created_at": iso(self.created_at),
            "edited_at": None if self.edited_at is None else iso(self.edited_at),
            "deleted_at": None if self.deleted_at is None else iso(self.deleted_at),
        }

    def to_seed_json(self) -> dict[str, Any]:
        """The seed's history item (`date_sent` instead of `created_at`), for a JSON response:
        the current text of an edited message, "" for a deleted one (mychat/openapi.json)."""
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


class Peer(NamedTuple):
    """The other person of a direct chat."""

    id: int
    nickname: str


@dataclass(frozen=True, slots=True)
class Chat:
    """A chat, the one shape chat_service gives it; `my_role` and `unread_count` are the
    viewer's (None where nobody asked: events, the seed's list)."""

    id: int
    name: str
    created_at: datetime
    created_by: int | None
    last_activity_at: datetime
    last_message_id: int | None
    my_role: str | None = None
    unread_count: int | None = None
    # A direct chat's pair of members ("<lower id>:<higher id>"); None for a group chat.
    direct_pair: str | None = None
    # A direct chat's other person as the viewer sees it (chat_service.direct_chats.with_peers);
    # their nickname is the chat's name for the viewer.
    peer: Peer | None = None

    @classmethod
    def from_row(
        cls, row: Sequence[Any], my_role: str | None = None, unread_count: int | None = None
    ) -> Chat:
        """From a row that starts with access.CHAT_COLUMNS."""
        id_, name, created_at, created_by, last_activity_at, last_message_id, pair = row[:7]
        return cls(
            id_,
            name,
            created_at,
            created_by,
            last_activity_at,
            last_message_id,
            my_role,
            unread_count,
            pair,
        )

    @property
    def is_direct(self) -> bool:
        return self.direct_pair is not None

    def to_json(self) -> dict[str, Any]:
        """The internal API's chat, as one member sees it: a direct chat is named after the
        other person."""
        peer = self.peer
        return {
            "id": self.id,
            "name": self.name if peer is None else peer.nickname,
            "direct": self.is_direct,
            "peer": None if peer is None else {"id": peer.id, "nickname": peer.nickname},
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "last_activity_at": iso(self.last_activity_at),
            "last_message_id": self.last_message_id,
            "my_role": self.my_role,
            "unread_count": self.unread_count,
        }

    def to_seed_json(self) -> dict[str, Any]:
        """The seed's chat list item."""
        return {"id": self.id, "name": self.name, "date_added": iso(self.created_at)}

    def to_event_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "direct": self.is_direct,
        }
