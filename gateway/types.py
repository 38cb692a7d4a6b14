"""GraphQL object types, kept apart from the services' storage models."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import cast

import strawberry
from graphql import Undefined

from gateway import described, plain_fields
from gateway.clients import (
    ChatClient,
    ChatData,
    MemberData,
    MessageData,
    MessagePage,
    QuoteData,
    ReactionData,
    ServiceError,
    UserData,
)
from gateway.context import Context
from gateway.errors import ClientFacingError
from gateway.ids import InvalidGlobalId, message_cursor_id, shared_global_id, to_global_id
from gateway.viewer_slots import Same
from mychat.tokens import TokenClaims

DEFAULT_MESSAGE_PAGE = 50
MAX_MESSAGE_PAGE = 200


def parse_datetime(value: str) -> datetime:
    return datetime.fromisoformat(value)


@strawberry.interface(description="An object with a global id (base64 of 'Type:databaseId').")
class Node:
    id: strawberry.ID


@strawberry.enum(
    description="TEXT: someone wrote it. The others are system lines kept in the history:"
    " JOINED and LEFT (`sender` joined or left), REMOVED (`sender` was removed; `text` is the"
    " nickname of the owner who removed them), RENAMED (`sender` renamed the chat; `text` is"
    " the new name)."
)
class MessageKind(Enum):
    TEXT = "text"
    JOINED = "joined"
    LEFT = "left"
    REMOVED = "removed"
    RENAMED = "renamed"


@strawberry.enum
class ChatRole(Enum):
    OWNER = "owner"
    MEMBER = "member"


# By stored value: a dict lookup costs a tenth of the Enum call (a message page builds 50).
_MESSAGE_KINDS = {kind.value: kind for kind in MessageKind}
_CHAT_ROLES = {role.value: role for role in ChatRole}


@strawberry.type
class User(Node):
    nickname: str

    @classmethod
    def build(cls, user_id: int, nickname: str) -> User:
        return cls(id=strawberry.ID(shared_global_id("User", user_id)), nickname=nickname)

    @classmethod
    def from_data(cls, data: UserData) -> User:
        return cls.build(data["id"], data["nickname"])


@strawberry.type(description="The signed-in user; `id` is the same as their User id.")
class Viewer(Node):
    login: str
    nickname: str

    @classmethod
    def from_data(cls, data: UserData) -> Viewer:
        return cls(
            id=strawberry.ID(to_global_id("User", data["id"])),
            login=data.get("login", ""),
            nickname=data["nickname"],
        )

    @classmethod
    def from_claims(cls, claims: TokenClaims) -> Viewer:
        return cls(
            id=strawberry.ID(to_global_id("User", claims.user_id)),
            login=claims.login,
            nickname=claims.nickname,
        )


@strawberry.type(description="A user's membership of a chat you are in.")
class Member:
    user: User
    role: ChatRole
    joined_at: datetime
    read_up_to: int = strawberry.field(
        default=0,
        description="databaseId of the last message this member has read (0: none): read"
        " receipts. Live through chatEvents' MessagesRead when it moves past a message of yours.",
    )
    user_db_id: strawberry.Private[int] = 0

    @classmethod
    def from_data(cls, data: MemberData) -> Member:
        return cls(
            user=User.build(data["user_id"], data["nickname"]),
            role=ChatRole(data["role"]),
            joined_at=parse_datetime(data["joined_at"]),
            read_up_to=data.get("last_read_message_id", 0),
            user_db_id=data["user_id"],
        )

    @described.field(
        "Whether the member has the app open anywhere now (members of a shared chat only)."
        " Live through chatEvents' PresenceChanged."
    )
    async def online(self, info: strawberry.Info[Context, None]) -> bool:
        seen = await info.context.loaders.presence.load(self.user_db_id)
        return seen is not None and seen.online

    @described.field("When the member was last online (null while online, or never seen).")
    async def last_seen_at(self, info: strawberry.Info[Context, None]) -> datetime | None:
        seen = await info.context.loaders.presence.load(self.user_db_id)
        if seen is None or seen.online:
            return None
        return seen.last_seen_at


@strawberry.type(
    description="What a reply shows of the message it answers, as that message is now."
)
class ReplyQuote:
    message_id: strawberry.ID = strawberry.field(
        description="The answered message's id: jump to it (it is in the same chat)."
    )
    database_id: int
    sender: User
    text: str = strawberry.field(
        description="The first line of its current text (at most 200 characters); empty when"
        " it was deleted."
    )
    deleted_at: datetime | None = strawberry.field(
        description="Set when the answered message was deleted: show its tombstone."
    )

    @classmethod
    def from_data(cls, data: QuoteData) -> ReplyQuote:
        return cls(
            message_id=strawberry.ID(to_global_id("Message", data["id"])),
            database_id=data["id"],
            sender=User.build(data["sender_id"], data["sender_nickname"]),
            text=data["text"],
            deleted_at=_optional_datetime(data["deleted_at"]),
        )


def _reacted_by_me(reaction: Reaction, context: Context) -> bool:
    viewer = context.viewer
    return viewer is not None and viewer.user_id in reaction.user_ids


@strawberry.type(description="One emoji on a message: how many reacted with it, and who.")
class Reaction:
    emoji: str
    count: int
    users: list[User] = strawberry.field(description="Who reacted, the first first.")
    user_ids: strawberry.Private[frozenset[int]]

    @classmethod
    def from_data(cls, data: ReactionData) -> Reaction:
        return cls(
            emoji=data["emoji"],
            count=data["count"],
            users=[User.from_data(user) for user in data["users"]],
            user_ids=frozenset(user["id"] for user in data["users"]),
        )

    @plain_fields.field(
        _reacted_by_me, "Whether you reacted with this emoji (toggleReaction takes it back)."
    )
    def reacted_by_me(self, info: strawberry.Info[Context, None]) -> bool:
        return _reacted_by_me(self, info.context)


@strawberry.type
class Message(Node):
    database_id: int
    text: str = strawberry.field(
        description="The current text (the latest edit); empty once the message is deleted."
    )
    created_at: datetime
    client_id: str | None
    sender: User
    chat_id: strawberry.ID
    edited_at: datetime | None = strawberry.field(
        default=None,
        description="When the author last edited the text (null: never). Live through"
        " chatEvents' MessageEdited.",
    )
    deleted_at: datetime | None = strawberry.field(
        default=None,
        description="When the author deleted the message (null: not deleted); the text is then"
        " erased and the message stays in the history as a tombstone. Live through chatEvents'"
        " MessageDeleted.",
    )
    reply_to: ReplyQuote | None = strawberry.field(
        default=None, description="The message this one replies to (null: not a reply)."
    )
    kind: MessageKind = strawberry.field(
        default=MessageKind.TEXT,
        description="TEXT, or the kind of system line (which nobody can edit, delete, react to"
        " or answer).",
    )
    reactions: list[Reaction] = strawberry.field(
        default_factory=list,
        description="Per emoji, in the order first used: count and who (toggleReaction). Live"
        " through chatEvents' ReactionsChanged.",
    )

    @classmethod
    def from_data(cls, data: MessageData) -> Message:
        reactions = data.get("reactions")
        return cls(
            id=strawberry.ID(to_global_id("Message", data["id"])),
            database_id=data["id"],
            text=data["text"],
            created_at=parse_datetime(data["created_at"]),
            client_id=data.get("client_id"),
            sender=User.build(data["sender_id"], data["sender_nickname"]),
            chat_id=strawberry.ID(shared_global_id("Chat", data["chat_id"])),
            edited_at=_optional_datetime(data.get("edited_at")),
            deleted_at=_optional_datetime(data.get("deleted_at")),
            reply_to=_quote(data.get("reply_to")),
            reactions=[Reaction.from_data(reaction) for reaction in reactions] if reactions else [],
            kind=_MESSAGE_KINDS[data.get("kind") or "text"],
        )


def _quote(data: QuoteData | None) -> ReplyQuote | None:
    return None if data is None else ReplyQuote.from_data(data)


def _optional_datetime(value: str | None) -> datetime | None:
    return None if value is None else parse_datetime(value)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class MessageEdge:
    cursor: str
    node: Message


@strawberry.type
class MessageConnection:
    edges: list[MessageEdge]
    page_info: PageInfo

    @classmethod
    def build(
        cls, rows: list[MessageData], *, has_next: bool, has_previous: bool
    ) -> MessageConnection:
        edges = [MessageEdge(cursor=str(m.id), node=m) for m in map(Message.from_data, rows)]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=has_next,
                has_previous_page=has_previous,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


def _cursor(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return message_cursor_id(value)
    except InvalidGlobalId as error:
        raise ClientFacingError(f"`{name}` is not a message cursor", "BAD_USER_INPUT") from error


def _page_size(name: str, value: int) -> int:
    if not 1 <= value <= MAX_MESSAGE_PAGE:
        raise ClientFacingError(
            f"`{name}` must be between 1 and {MAX_MESSAGE_PAGE}", "BAD_USER_INPUT"
        )
    return value


def _known_last_message(chat: Chat, _context: Context) -> object:
    """Chat.lastMessage when the chat was built with it, else Undefined (the resolver loads it)."""
    return chat.known_last_message if chat.last_message_known else Undefined


@strawberry.type
class Chat(Node):
    database_id: int
    name: str = strawberry.field(
        description="The chat's name; a direct chat's is the other person's nickname."
    )
    created_at: datetime
    last_activity_at: datetime
    my_role: ChatRole
    unread_count: int
    is_direct: bool = strawberry.field(
        default=False,
        description="A one-to-one chat (startDirectChat): named after the other person on each"
        " side, no owner, nobody added, removed or renamed.",
    )
    direct_with: User | None = strawberry.field(
        default=None, description="The other person of a direct chat; null for a group chat."
    )
    # Set where the newest message is known already (a live event's chat, gateway/chat_state.py):
    # `lastMessage` then needs no service call.
    known_last_message: strawberry.Private[Message | None] = None
    last_message_known: strawberry.Private[bool] = False

    @classmethod
    def from_data(cls, data: ChatData) -> Chat:
        peer = data.get("peer")
        return cls(
            is_direct=bool(data.get("direct")),
            direct_with=None if peer is None else User.from_data(peer),
            id=strawberry.ID(shared_global_id("Chat", data["id"])),
            database_id=data["id"],
            name=data["name"],
            created_at=parse_datetime(data["created_at"]),
            last_activity_at=parse_datetime(data["last_activity_at"]),
            my_role=_CHAT_ROLES[data["my_role"]],
            unread_count=data.get("unread_count") or 0,  # None: fetched without it
        )

    def shared_part(self) -> Hashable | None:
        """All but the per-viewer leaves (gateway/viewer_slots.py): what viewers sharing one
        execution of an event must agree on (a direct chat's name and other person differ).
        None while the last message is not known: its resolver would call a service."""
        if not self.last_message_known:
            return None
        direct = self.direct_with
        return (
            self.database_id,
            self.name,
            self.created_at,
            self.last_activity_at,
            self.is_direct,
            None if direct is None else direct.id,
            Same(self.known_last_message),
        )

    @strawberry.field
    async def members(self, info: strawberry.Info[Context, None]) -> list[Member]:
        rows = await info.context.loaders.members.load(self.database_id)
        return [Member.from_data(row) for row in rows]

    @plain_fields.field(_known_last_message)
    def last_message(self, info: strawberry.Info[Context, None]) -> Message | None:
        # Not `async def`: when the chat knows its last message (every live event's chat, the
        # chat list's chats), the answer is there now (read without this resolver, see
        # gateway/plain_fields.py), and an event's execution stays synchronous (its template
        # is ready for every viewer at once: gateway/shared_events.py). Otherwise the loader's
        # awaitable is returned, which graphql-core awaits as it awaits any resolver's.
        if self.last_message_known:
            return self.known_last_message
        return cast("Message | None", self._load_last_message(info))

    async def _load_last_message(self, info: strawberry.Info[Context, None]) -> Message | None:
        row = await info.context.loaders.last_messages.load(self.database_id)
        return None if row is None else Message.from_data(row)

    @described.field(
        f"History: `last`/`before` (default last {DEFAULT_MESSAGE_PAGE}, "
        f"at most {MAX_MESSAGE_PAGE}), or `first`/`after`. Cursors are Message ids."
    )
    async def messages(
        self,
        info: strawberry.Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> MessageConnection:
        request = PageRequest.parse(first=first, after=after, last=last, before=before)
        page = info.context.loaders.message_pages.pop(request.key(self.database_id), None)
        if page is None:
            try:
                page = await request.fetch(info.context.chat(), self.database_id)
            except ServiceError as error:
                raise ClientFacingError(error.message, error.code.upper()) from error
        return request.connection(page)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """The page `Chat.messages` asks chat_service for: forward (`first`/`after`) or backward."""

    forward: bool
    size: int
    cursor: int | None  # `after` (forward) or `before` (backward), a message database id

    @classmethod
    def parse(
        cls, *, first: int | None, after: str | None, last: int | None, before: str | None
    ) -> PageRequest:
        """The field's arguments checked (ClientFacingError for bad ones), defaults applied."""
        if first is not None and last is not None:
            raise ClientFacingError("Use either `first` or `last`, not both", "BAD_USER_INPUT")
        after_id, before_id = _cursor("after", after), _cursor("before", before)
        if first is not None or (after_id is not None and last is None):
            size = _page_size("first", DEFAULT_MESSAGE_PAGE if first is None else first)
            return cls(True, size, after_id)
        return cls(
            False, _page_size("last", DEFAULT_MESSAGE_PAGE if last is None else last), before_id
        )

    def key(self, chat_id: int) -> tuple[int, bool, int, int | None]:
        return (chat_id, self.forward, self.size, self.cursor)

    async def fetch(
        self, client: ChatClient, chat_id: int, *, with_chat: bool = False, unread: bool = True
    ) -> MessagePage:
        if self.forward:
            return await client.messages(
                chat_id, first=self.size, after=self.cursor, with_chat=with_chat, unread=unread
            )
        return await client.messages(
            chat_id, last=self.size, before=self.cursor, with_chat=with_chat, unread=unread
        )

    def connection(self, page: MessagePage) -> MessageConnection:
        if self.forward:
            return MessageConnection.build(
                page["messages"], has_next=page["has_more"], has_previous=self.cursor is not None
            )
        return MessageConnection.build(
            page["messages"], has_next=self.cursor is not None, has_previous=page["has_more"]
        )


@strawberry.type
class ChatEdge:
    cursor: str
    node: Chat


@strawberry.type
class ChatConnection:
    edges: list[ChatEdge]
    page_info: PageInfo
