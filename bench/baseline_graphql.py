"""Bare Strawberry baseline: the draft schema's types answered from in-memory objects.

Parser and validation caches on, as in our gateway; no token check, no service hop, no SQL.
`{ hello }` is the framework's floor.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

HISTORY_SIZE = 50
CACHE_SIZE = 256
# The web app's chat list asks for 50 chats (CHAT_LIST_SIZE in web/src/views/messenger.js).
CHAT_LIST_SIZE = 50


def global_id(kind: str, db_id: int) -> strawberry.ID:
    return strawberry.ID(base64.b64encode(f"{kind}:{db_id}".encode()).decode())


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.interface
class Error:
    message: str
    code: str


@strawberry.type
class User(Node):
    nickname: str


@strawberry.type
class Viewer(Node):
    login: str
    nickname: str


@strawberry.enum
class ChatRole(Enum):
    OWNER = "owner"
    MEMBER = "member"


@strawberry.enum
class MessageKind(Enum):
    TEXT = "text"
    JOINED = "joined"
    LEFT = "left"
    REMOVED = "removed"
    RENAMED = "renamed"


@strawberry.type
class Reaction:
    emoji: str
    count: int
    users: list[User]
    reacted_by_me: bool


@strawberry.type
class ReplyQuote:
    message_id: strawberry.ID
    database_id: int
    sender: User
    text: str
    deleted_at: datetime | None


@strawberry.type
class Message(Node):
    database_id: int
    text: str
    created_at: datetime
    client_id: str | None
    sender: User
    chat_id: strawberry.ID
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    reply_to: ReplyQuote | None = None
    kind: MessageKind = MessageKind.TEXT
    reactions: list[Reaction] = strawberry.field(default_factory=list)


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


@strawberry.type
class Chat(Node):
    database_id: int
    name: str
    edges_store: strawberry.Private[list[MessageEdge]]
    created_at: datetime
    last_activity_at: datetime
    my_role: ChatRole
    unread_count: int
    last_message: Message | None

    @strawberry.field
    def messages(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> MessageConnection:
        count = last or first or HISTORY_SIZE
        edges = self.edges_store[-count:]
        return MessageConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=False,
                has_previous_page=len(self.edges_store) > count,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


@strawberry.type
class ChatEdge:
    cursor: str
    node: Chat


@strawberry.type
class ChatConnection:
    edges: list[ChatEdge]
    page_info: PageInfo


@strawberry.type
class SendMessagePayload:
    message: Message


@strawberry.type
class ValidationError(Error):
    field: str | None


@strawberry.type
class NotFound(Error):
    pass


SendMessageResult = Annotated[
    SendMessagePayload | ValidationError | NotFound, strawberry.union("SendMessageResult")
]


class Store:
    """The in-memory data every resolver reads."""

    def __init__(self) -> None:
        self.viewer = Viewer(id=global_id("User", 1), login="bench", nickname="bench")
        self.sender = User(id=global_id("User", 1), nickname="bench")
        self.chat_gid = global_id("Chat", 1)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        edges = [
            MessageEdge(cursor=str(i), node=self.message(i, f"benchmark message number {i}", start))
            for i in range(1, HISTORY_SIZE + 1)
        ]
        self.chat = self.make_chat(1, "bench", edges, start)
        self.next_id = HISTORY_SIZE + 1
        # The chat list: chats each with one message, as the bench's seeded user has them.
        self.chats = [
            ChatEdge(
                cursor=str(i),
                node=self.make_chat(
                    i,
                    f"chat {i}",
                    [MessageEdge(cursor="1", node=self.message(i, f"last in chat {i}", start))],
                    start + timedelta(seconds=i),
                ),
            )
            for i in range(CHAT_LIST_SIZE, 0, -1)
        ]

    def make_chat(self, db_id: int, name: str, edges: list[MessageEdge], at: datetime) -> Chat:
        return Chat(
            id=global_id("Chat", db_id),
            database_id=db_id,
            name=name,
            edges_store=edges,
            created_at=at,
            last_activity_at=at,
            my_role=ChatRole.OWNER,
            unread_count=0,
            last_message=edges[-1].node if edges else None,
        )

    def message(self, db_id: int, text: str, created_at: datetime) -> Message:
        return Message(
            id=global_id("Message", db_id),
            database_id=db_id,
            text=text,
            created_at=created_at,
            client_id=None,
            sender=self.sender,
            chat_id=self.chat_gid,
        )


def build_schema(store: Store) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        def hello(self) -> str:
            return "world"

        @strawberry.field
        def me(self) -> Viewer | None:
            return store.viewer

        @strawberry.field
        def chat(self, id: strawberry.ID) -> Chat | None:
            return store.chat

        @strawberry.field
        def chats(self, first: int | None = 20, after: str | None = None) -> ChatConnection:
            edges = store.chats[: first or 20]
            return ChatConnection(
                edges=edges,
                page_info=PageInfo(
                    has_next_page=len(store.chats) > len(edges),
                    has_previous_page=False,
                    start_cursor=edges[0].cursor if edges else None,
                    end_cursor=edges[-1].cursor if edges else None,
                ),
            )

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        def send_message(
            self, chat_id: strawberry.ID, text: str, client_id: str | None = None
        ) -> SendMessageResult:
            message = store.message(store.next_id, text, datetime.now(UTC))
            store.next_id += 1
            edges = store.chat.edges_store
            edges.append(MessageEdge(cursor=str(message.database_id), node=message))
            del edges[: -HISTORY_SIZE * 2]  # keep memory flat over a long run
            return SendMessagePayload(message=message)

    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[User, Viewer, Message, NotFound, ValidationError],
        # Factories: the LRU caches live at module level, shared by every request.
        extensions=[
            lambda: ParserCache(maxsize=CACHE_SIZE),
            lambda: ValidationCache(maxsize=CACHE_SIZE),
        ],
    )


def create_app() -> GraphQL[None, None]:
    return GraphQL(build_schema(Store()), graphql_ide=None)
