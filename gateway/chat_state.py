"""A live subscriber's own view of their chats, kept from the event stream (chatEvents).

Loaded once when a `chatEvents` subscription starts (and again on a Resync): each chat's name,
the viewer's role, unread count and newest message, in one call to chat_service
(`/internal/chat-state`). Every event then moves it forward without a service call: a message
from someone else counts as unread, the viewer's own read marker (from any of their devices)
clears what it covers, an owner's hand-over makes the viewer owner. The `Chat` inside each event
is built from it, so `unreadCount`, `myRole` and `lastMessage` are the viewer's, exact.

Unread counting: the loaded count covers messages up to `counted_up_to` (chat_service says
which: the chat's newest id at load time, or a newer one that committed while it counted);
newer ones from others are kept by id until a read marker passes them. A read marker below
`counted_up_to` (someone read only part of an old backlog) cannot be applied from the ids
alone: that chat is reloaded (one call, rare).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import strawberry

from gateway.clients import ChatClient, ChatStateData, MessageData
from gateway.ids import to_global_id
from gateway.types import Chat, ChatRole, Message, User, parse_datetime
from mychat.events import Event, EventKind

# Builds the GraphQL Message of a row (shared by every local subscriber of the same event).
MessageBuilder = Callable[[MessageData], Message]


@dataclass(slots=True)
class ChatState:
    id: int
    global_id: strawberry.ID
    name: str
    created_at: datetime
    role: ChatRole
    last_activity_at: datetime
    last_message: Message | None
    counted_up_to: int  # the newest message id the loaded `base_unread` took into account
    newest_line_id: int  # the chat's newest line of any kind when loaded (system lines too)
    base_unread: int
    unread_ids: list[int] = field(default_factory=list)  # others' messages > counted_up_to
    is_direct: bool = False
    direct_with: User | None = None

    @property
    def unread(self) -> int:
        return self.base_unread + len(self.unread_ids)

    def chat(self) -> Chat:
        return Chat(
            id=self.global_id,
            database_id=self.id,
            name=self.name,
            created_at=self.created_at,
            last_activity_at=self.last_activity_at,
            my_role=self.role,
            unread_count=self.unread,
            known_last_message=self.last_message,
            last_message_known=True,
            is_direct=self.is_direct,
            direct_with=self.direct_with,
        )


class ViewerChats:
    """The viewer's chats, by id (see the module docstring)."""

    __slots__ = ("_build_message", "chats", "viewer_id")

    def __init__(self, viewer_id: int, build_message: MessageBuilder) -> None:
        self.viewer_id = viewer_id
        self._build_message = build_message
        self.chats: dict[int, ChatState] = {}

    def __contains__(self, chat_id: int) -> bool:
        return chat_id in self.chats

    def ids(self) -> set[int]:
        return set(self.chats)

    def newest_message_id(self) -> int:
        """Where "from now" starts: the newest line of the viewer's chats, a system line after
        a chat's last message included (it would otherwise be replayed as new)."""
        return max((state.newest_line_id for state in self.chats.values()), default=0)

    async def load(self, client: ChatClient, chat_ids: Iterable[int] | None = None) -> None:
        """Everything (chat_ids None: chats no longer listed are dropped) or these chats."""
        rows = await client.chat_state(chat_ids)
        if chat_ids is None:
            self.chats = {}
        else:
            for chat_id in chat_ids:
                self.chats.pop(chat_id, None)
        for row in rows:
            self.chats[row["id"]] = self._state(row)

    def _state(self, row: ChatStateData) -> ChatState:
        last, peer = row["last_message"], row.get("peer")
        return ChatState(
            is_direct=bool(row.get("direct")),
            direct_with=None if peer is None else User.from_data(peer),
            id=row["id"],
            global_id=strawberry.ID(to_global_id("Chat", row["id"])),
            name=row["name"],
            created_at=parse_datetime(row["created_at"]),
            role=ChatRole(row["my_role"]),
            last_activity_at=parse_datetime(row["last_activity_at"]),
            last_message=None if last is None else self._build_message(last),
            counted_up_to=row["unread_counted_up_to"],
            newest_line_id=row["newest_line_id"],
            base_unread=row["unread_count"] or 0,
        )

    def created(self, chat: dict[str, object]) -> ChatState:
        """A chat that was just created with the viewer in it (no messages yet)."""
        chat_id = int(str(chat["id"]))
        created_at = parse_datetime(str(chat["created_at"]))
        owner = chat.get("created_by") == self.viewer_id
        state = self.chats[chat_id] = ChatState(
            id=chat_id,
            global_id=strawberry.ID(to_global_id("Chat", chat_id)),
            name=str(chat["name"]),
            created_at=created_at,
            role=ChatRole.OWNER if owner else ChatRole.MEMBER,
            last_activity_at=created_at,
            last_message=None,
            counted_up_to=0,
            newest_line_id=0,
            base_unread=0,
        )
        return state

    def message(self, row: MessageData, message: Message) -> ChatState | None:
        """A message of one of the viewer's chats, live or caught up, not seen before by this
        subscription: the chat, moved on."""
        state = self.chats.get(row["chat_id"])
        if state is None:
            return None
        message_id = row["id"]
        if row.get("kind") is not None:  # a system line: never unread, never the last message
            return state
        if message_id > state.counted_up_to and row["sender_id"] != self.viewer_id:
            state.unread_ids.append(message_id)  # each message once: the stream's SeenIds
        if state.last_message is None or message_id > state.last_message.database_id:
            state.last_message = message
            state.last_activity_at = message.created_at
        return state

    def changed(self, chat_id: int, message: Message) -> ChatState:
        """A message of a chat of the viewer's was edited or deleted (its newest, perhaps)."""
        state = self.chats[chat_id]
        last = state.last_message
        if last is not None and last.database_id == message.database_id:
            state.last_message = message
        return state

    def read(self, chat_id: int, read_up_to: int) -> bool:
        """The viewer's read marker moved (on any device); False if the chat must be reloaded
        to know its unread count."""
        state = self.chats.get(chat_id)
        if state is None:
            return True
        state.unread_ids = [
            message_id for message_id in state.unread_ids if message_id > read_up_to
        ]
        if read_up_to >= state.counted_up_to:
            state.base_unread = 0
            return True
        return state.base_unread == 0

    def owner_action(self, event: Event) -> None:
        """A rename, or a new owner (the viewer, perhaps, or no longer)."""
        state = self.chats.get(event.chat_id)
        if state is None:
            return
        payload = event.payload
        if event.kind is EventKind.CHAT_RENAMED:
            state.name = str(payload["chat"]["name"])
        elif event.kind is EventKind.OWNER_CHANGED:
            if payload["owner"]["id"] == self.viewer_id:
                state.role = ChatRole.OWNER
            elif payload["previous_owner"]["id"] == self.viewer_id:
                state.role = ChatRole.MEMBER

    def remove(self, chat_id: int) -> bool:
        return self.chats.pop(chat_id, None) is not None
