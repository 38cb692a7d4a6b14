"""Events chat_service publishes after each commit and the gateway's subscriptions consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson


class EventKind(StrEnum):
    MESSAGE_ADDED = "message_added"
    MESSAGE_EDITED = "message_edited"
    MESSAGE_DELETED = "message_deleted"
    REACTIONS_CHANGED = "reactions_changed"
    MEMBER_ADDED = "member_added"
    MEMBER_LEFT = "member_left"
    CHAT_CREATED = "chat_created"
    # Owner actions (chat_service/ownership.py); MEMBER_REMOVED reaches the removed user too.
    CHAT_RENAMED = "chat_renamed"
    MEMBER_REMOVED = "member_removed"
    OWNER_CHANGED = "owner_changed"
    # Live signals (never stored): gateways publish presence, chat_service typing and reads.
    PRESENCE_CHANGED = "presence_changed"
    TYPING = "typing"
    MESSAGES_READ = "messages_read"
    # Accounts (auth_service, chat_id 0): on their own Redis channel, which every process reads.
    SESSIONS_REVOKED = "sessions_revoked"
    ACCOUNT_DELETED = "account_deleted"


ACCOUNT_KINDS = frozenset({EventKind.SESSIONS_REVOKED, EventKind.ACCOUNT_DELETED})


@dataclass(frozen=True, slots=True)
class Event:
    """One committed change to a chat.

    payload by kind (all ids are ints, datetimes ISO 8601 strings with offset):
    - message_added: {"message": {id, chat_id, sender_id, sender_nickname, text, created_at,
      client_id, edited_at, deleted_at,
      plus reply_to ({id, sender_id, sender_nickname, text, deleted_at} or null) and reactions
      ([{emoji, count, users: [{id, nickname}]}]), kind (null, or a system line's kind)}} (the
      chat's new last message; its created_at is the chat's last activity)
    - message_edited, message_deleted, reactions_changed: {"message": the same shape, as stored
      after the change (deleted: text "", deleted_at set, no reactions)}
    - member_added: {"user": {id, nickname}, "added_by": int, "joined_at": str, "line": message}
    - member_left: {"user": {id, nickname}, "line": message}
      ("line": the stored system line, a message with kind "joined", "left", "removed" or
      "renamed"; chat_renamed and member_removed carry theirs the same way)
    - chat_created: {"chat": {id, name, created_at, created_by, direct}, "member_ids": [int]}
      (a direct chat's name is the stored one; each side shows the other person's nickname)
    - chat_renamed: {"chat": {id, name}, "previous_name": str, "by": {id, nickname}, "line":
      message}
    - member_removed: {"user": {id, nickname}, "by": {id, nickname}, "line": message} (the
      removed user is one of its recipients: their subscriptions end or mark the removal at once)
    - owner_changed: {"owner": {id, nickname}, "previous_owner": {id, nickname}, "reason":
      "handed_on" | "owner_left"}
    - presence_changed (chat_id 0): {"changes": [{"user": {id, nickname}, "online": bool,
      "last_seen_at": str | None, "chat_ids": [int, ...]}, ...]} (a gateway's batch; chat_ids:
      the chats whose members may learn that change)
    - typing: {"user": {id, nickname}, "typing": bool}
    - messages_read: {"user": {id, nickname}, "last_read_message_id": int} (recipients: the
      reader and the members who sent a message the marker moved past, not all members)
    - sessions_revoked (chat_id 0): {"user_id": int, "sessions": {session id: expiry, Unix s}}
    - account_deleted (chat_id 0): {"user_id": int}

    `recipients`: the chat's members when the change committed (read in its transaction, after
    the writer took the chat's row lock: a user removed before it is not among them, one added
    before it is), as Zulip's `send_event_on_commit(realm, event, users)`; a gateway delivers
    the event to them only. Who left or was removed is a recipient of that event (it tells them
    they are out). Set by chat_service for every event of a chat it commits (unit_of_work,
    sending; typing reads the members when it publishes; messages_read names its own, see
    above); None where the event is not addressed by membership (presence, accounts).
    """

    kind: EventKind
    chat_id: int
    payload: dict[str, Any] = field(default_factory=dict)
    recipients: frozenset[int] | None = None

    def reaches(self, user_id: int) -> bool:
        """Whether the event is for this user (always true for an event without recipients)."""
        return self.recipients is None or user_id in self.recipients

    @property
    def is_account_event(self) -> bool:
        return self.kind in ACCOUNT_KINDS

    def to_json(self) -> bytes:
        data: dict[str, Any] = {
            "kind": self.kind.value,
            "chat_id": self.chat_id,
            "payload": self.payload,
        }
        if self.recipients is not None:
            data["recipients"] = sorted(self.recipients)
        return orjson.dumps(data)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        data = orjson.loads(raw)
        recipients = data.get("recipients")
        return cls(
            kind=EventKind(data["kind"]),
            chat_id=int(data["chat_id"]),
            payload=data["payload"],
            recipients=None if recipients is None else frozenset(map(int, recipients)),
        )
