"""Subscription root: live messages of one chat, or every event of all the caller's chats.

Catch-up without gap or duplicate: subscribe to the broker first, then read the missed rows
from chat_service, then yield live events whose ids were not yielded yet. A Resync from the
broker (reconnect, slow consumer) re-reads from the highest id yielded.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

import strawberry

from gateway import described
from gateway.catchup import SeenIds, until_token_expires
from gateway.clients import ChatClient, MessageData, ServiceError
from gateway.context import Context
from gateway.errors import ClientFacingError, unauthenticated_error
from gateway.ids import InvalidGlobalId, database_id, message_cursor_id, to_global_id
from gateway.owner_events import (
    OWNER_KINDS,
    ChatRenamed,
    MemberRemoved,
    OwnerChanged,
    owner_event,
    removes_viewer,
    system_line,
)
from gateway.types import Chat, ChatRole, Member, Message, User, parse_datetime
from mychat.broker import Resync
from mychat.events import Event, EventKind

Info = strawberry.Info[Context, None]
CATCH_UP_PAGE = 200
CATCH_UP_ALL_PAGE = 500
# Live signals, which chatEvents yields only when asked (`signals: true`).
SIGNAL_KINDS = frozenset({EventKind.TYPING, EventKind.MESSAGES_READ, EventKind.PRESENCE_CHANGED})


async def _chat_for_event(info: Info, chat_id: int) -> Chat:
    row = await info.context.loaders.chats.load(chat_id)
    if row is None:
        raise ClientFacingError("You are no longer a member of this chat", "NOT_A_MEMBER")
    return Chat.from_data(row)


@strawberry.type
class MessageAdded:
    message: Message
    chat_db_id: strawberry.Private[int]

    @strawberry.field
    async def chat(self, info: Info) -> Chat:
        return await _chat_for_event(info, self.chat_db_id)


@strawberry.type(description="A message was edited: `message` has the new text and `editedAt`.")
class MessageEdited:
    message: Message
    chat_db_id: strawberry.Private[int]

    @strawberry.field
    async def chat(self, info: Info) -> Chat:
        return await _chat_for_event(info, self.chat_db_id)


@strawberry.type(
    description="A message was deleted: `message` is its tombstone (empty text, `deletedAt`)."
)
class MessageDeleted:
    message: Message
    chat_db_id: strawberry.Private[int]

    @strawberry.field
    async def chat(self, info: Info) -> Chat:
        return await _chat_for_event(info, self.chat_db_id)


@strawberry.type(
    description="Someone reacted to a message or took a reaction back: `message.reactions` is"
    " its whole summary now."
)
class ReactionsChanged:
    message: Message
    chat_db_id: strawberry.Private[int]

    @strawberry.field
    async def chat(self, info: Info) -> Chat:
        return await _chat_for_event(info, self.chat_db_id)


# The stored changes to a message already delivered, by event kind.
CHANGE_KINDS: dict[EventKind, type[MessageEdited | MessageDeleted | ReactionsChanged]] = {
    EventKind.MESSAGE_EDITED: MessageEdited,
    EventKind.MESSAGE_DELETED: MessageDeleted,
    EventKind.REACTIONS_CHANGED: ReactionsChanged,
}


@strawberry.type
class MemberAdded:
    chat_db_id: strawberry.Private[int]
    user_id: strawberry.Private[int]
    nickname: strawberry.Private[str]
    line: Message | None = strawberry.field(
        default=None, description='The system line "X joined" stored in the history.'
    )

    @strawberry.field
    async def chat(self, info: Info) -> Chat:
        return await _chat_for_event(info, self.chat_db_id)

    @strawberry.field
    async def member(self, info: Info) -> Member:
        for row in await info.context.loaders.members.load(self.chat_db_id):
            if row["user_id"] == self.user_id:
                return Member.from_data(row)
        # Already gone again: describe the member from the event itself.
        return Member(
            user=User.build(self.user_id, self.nickname),
            role=ChatRole.MEMBER,
            joined_at=datetime.now(UTC),
            user_db_id=self.user_id,
        )


@strawberry.type
class MemberLeft:
    user: User
    chat_db_id: strawberry.Private[int]
    line: Message | None = strawberry.field(
        default=None, description='The system line "X left" stored in the history.'
    )

    @strawberry.field
    async def chat(self, info: Info) -> Chat:
        return await _chat_for_event(info, self.chat_db_id)


@strawberry.type
class AddedToChat:
    chat_db_id: strawberry.Private[int]

    @strawberry.field
    async def chat(self, info: Info) -> Chat:
        return await _chat_for_event(info, self.chat_db_id)


@strawberry.type
class RemovedFromChat:
    chat_id: strawberry.ID


@strawberry.type(
    description="A member started (or stopped) typing. Show it until about 6 s after the last"
    " one, or until their message arrives. Never sent to the typist."
)
class Typing:
    chat_id: strawberry.ID
    user: User
    typing: bool


@strawberry.type(description="A member has read the chat up to `readUpTo` (read receipts).")
class MessagesRead:
    chat_id: strawberry.ID
    user: User
    read_up_to: int


@strawberry.type(
    description="Someone you share a chat with came online or went offline (any gateway)."
)
class PresenceChanged:
    user: User
    online: bool
    last_seen_at: datetime | None


ChatEvent = Annotated[
    MessageAdded
    | MessageEdited
    | MessageDeleted
    | ReactionsChanged
    | MemberAdded
    | MemberLeft
    | AddedToChat
    | RemovedFromChat
    | Typing
    | MessagesRead
    | PresenceChanged
    | ChatRenamed
    | MemberRemoved
    | OwnerChanged,
    strawberry.union("ChatEvent"),
]


def _removed(chat_id: int) -> RemovedFromChat:
    return RemovedFromChat(chat_id=strawberry.ID(to_global_id("Chat", chat_id)))


def _left_error() -> ClientFacingError:
    return ClientFacingError("You are no longer a member of this chat", "NOT_A_MEMBER")


def _after_id(after: str | None) -> int | None:
    if after is None:
        return None
    try:
        return message_cursor_id(after)
    except InvalidGlobalId as error:
        raise ClientFacingError("`after` is not a message id", "BAD_USER_INPUT") from error


async def _chat_history_after(
    client: ChatClient, chat_id: int, after: int
) -> AsyncIterator[MessageData]:
    """Messages after `after`; the caller's membership is checked with every page."""
    while True:
        try:
            page = await client.messages(chat_id, first=CATCH_UP_PAGE, after=after)
        except ServiceError as error:
            if error.status in (403, 404):
                raise _left_error() from error
            raise
        for row in page["messages"]:
            yield row
        if not page["has_more"] or not page["messages"]:
            return
        after = page["messages"][-1]["id"]


async def _all_history_after(client: ChatClient, after: int) -> AsyncIterator[MessageData]:
    while True:
        page = await client.messages_after(after, CATCH_UP_ALL_PAGE)
        for row in page["messages"]:
            yield row
        if not page["has_more"] or not page["messages"]:
            return
        after = page["messages"][-1]["id"]


def _require_viewer(info: Info) -> int:
    """The caller, who must be signed in and below their subscription limit."""
    viewer = info.context.viewer
    if viewer is None:
        raise unauthenticated_error()
    info.context.resources.limits.check_subscription(viewer.user_id)
    return viewer.user_id


@strawberry.type
class Subscription:
    @described.subscription(
        "Missed messages after `after` (a Message id) first, then live ones; no gap,"
        " no duplicate. A message already yielded comes again when it is edited, deleted or"
        " reacted to (same id, new `text`, `editedAt`, `deletedAt` or `reactions`). System"
        " lines (`kind` other than TEXT) come as messages too. Ends with an error when the"
        " caller leaves or is removed from the chat."
    )
    async def message_added(
        self, info: Info, chat_id: strawberry.ID, after: strawberry.ID | None = None
    ) -> AsyncGenerator[Message, None]:
        _require_viewer(info)
        try:
            chat_db_id = database_id(chat_id, "Chat")
        except InvalidGlobalId as error:
            raise ClientFacingError("Chat not found", "NOT_FOUND") from error
        after_id = _after_id(after)
        # Refuse early (a protocol-level error); the stream's catch-up checks again once it
        # listens. The same call gives the newest id, where a live-only stream starts.
        try:
            newest = await info.context.chat().messages(chat_db_id, last=1)
        except ServiceError as error:
            if error.status in (403, 404):
                raise ClientFacingError(
                    "You are not a member of this chat", "NOT_A_MEMBER"
                ) from error
            raise
        if after_id is None:  # live only: everything up to the newest message counts as seen
            after_id = newest["messages"][-1]["id"] if newest["messages"] else 0
        return message_stream(info.context, chat_db_id, after_id)

    @described.subscription(
        "Everything for all the caller's chats on one socket; `after` (a Message "
        "id) first replays missed messages. `signals: true` adds the live signals: Typing, "
        "MessagesRead (read receipts) and PresenceChanged."
    )
    async def chat_events(
        self, info: Info, after: strawberry.ID | None = None, signals: bool = False
    ) -> AsyncGenerator[ChatEvent, None]:
        _require_viewer(info)
        return chat_event_stream(info.context, _after_id(after), signals=signals)


async def message_stream(
    context: Context, chat_id: int, after: int
) -> AsyncGenerator[Message, None]:
    viewer = context.viewer
    if viewer is None:
        raise unauthenticated_error()
    with context.resources.limits.subscription(viewer.user_id):
        async with context.broker.subscribe() as subscription:
            # Now that we listen, catch up from `after` (this checks membership again). Clients
            # are made per use: an idle subscription holds none.
            seen = SeenIds(after)
            async for row in _chat_history_after(context.chat(), chat_id, after):
                if row["id"] not in seen:
                    seen.add(row["id"])
                    yield Message.from_data(row)
            async for item in until_token_expires(context, subscription):
                if isinstance(item, Resync):
                    async for row in _chat_history_after(context.chat(), chat_id, seen.highest):
                        if row["id"] not in seen:
                            seen.add(row["id"])
                            yield Message.from_data(row)
                    continue
                if item.chat_id != chat_id:
                    continue
                if (
                    item.kind == EventKind.MEMBER_LEFT
                    and item.payload["user"]["id"] == viewer.user_id
                ) or removes_viewer(item, viewer.user_id):
                    raise _left_error()
                line = item.payload.get("line")
                if line is not None and line["id"] not in seen:
                    seen.add(line["id"])
                    yield Message.from_data(line)
                if item.kind in CHANGE_KINDS:
                    row = item.payload["message"]
                    yield context.shared_events.object_for(
                        "Message", row, partial(Message.from_data, row)
                    )
                    continue
                if item.kind == EventKind.MESSAGE_ADDED:
                    row = item.payload["message"]
                    if row["id"] not in seen:
                        seen.add(row["id"])
                        # One object per event for all local subscribers: see shared_events.
                        yield context.shared_events.object_for(
                            "Message", row, partial(Message.from_data, row)
                        )


async def chat_event_stream(
    context: Context, after: int | None, *, signals: bool = False
) -> AsyncGenerator[ChatEvent, None]:
    viewer = context.viewer
    if viewer is None:
        raise unauthenticated_error()
    me = viewer.user_id
    with context.resources.limits.subscription(viewer.user_id):
        async with context.broker.subscribe() as subscription:
            client = context.chat()
            chat_ids = set(await client.chat_ids())
            if after is None:
                newest = await client.last_messages(chat_ids) if chat_ids else {}
                after = max((row["id"] for row in newest.values() if row), default=0)
            seen = SeenIds(after)

            def message_added(row: MessageData) -> MessageAdded:
                seen.add(row["id"])
                context.reset_loaders()  # each event reads current data
                return MessageAdded(message=Message.from_data(row), chat_db_id=row["chat_id"])

            async for row in _all_history_after(client, after):
                if row["id"] not in seen and row["chat_id"] in chat_ids:
                    yield message_added(row)
            del client  # clients are made per use: an idle subscription holds none
            async for item in until_token_expires(context, subscription):
                if isinstance(item, Resync):
                    client = context.chat()
                    current = set(await client.chat_ids())
                    for gone in chat_ids - current:
                        yield _removed(gone)
                    for added in current - chat_ids:
                        context.reset_loaders()
                        yield AddedToChat(chat_db_id=added)
                    chat_ids = current
                    async for row in _all_history_after(client, seen.highest):
                        if row["id"] not in seen and row["chat_id"] in chat_ids:
                            yield message_added(row)
                    continue
                if item.kind in SIGNAL_KINDS and not signals:
                    continue
                event = _chat_event(context, item, chat_ids, me)
                if event is None:
                    continue
                if isinstance(event, MessageAdded):
                    if event.message.database_id in seen:
                        continue
                    seen.add(event.message.database_id)
                lined = MemberAdded | MemberLeft | ChatRenamed | MemberRemoved
                if isinstance(event, lined) and event.line is not None:
                    seen.add(event.line.database_id)  # a catch-up must not repeat it
                context.reset_loaders()
                yield event


def _chat_event(context: Context, event: Event, chat_ids: set[int], me: int) -> ChatEvent | None:
    """The caller's view of one broker event, updating the set of their chats."""
    chat_id = event.chat_id
    payload = event.payload
    if event.kind == EventKind.CHAT_CREATED:
        if me in payload.get("member_ids", ()) and chat_id not in chat_ids:
            chat_ids.add(chat_id)
            return AddedToChat(chat_db_id=chat_id)
        return None
    if event.kind == EventKind.PRESENCE_CHANGED:
        return _presence_changed(context, payload, chat_ids, me)
    if event.kind == EventKind.MEMBER_ADDED:
        user = payload["user"]
        if user["id"] == me:
            if chat_id in chat_ids:
                return None
            chat_ids.add(chat_id)
            return AddedToChat(chat_db_id=chat_id)
        if chat_id in chat_ids:
            return MemberAdded(
                chat_db_id=chat_id,
                user_id=user["id"],
                nickname=user["nickname"],
                line=system_line(payload),
            )
        return None
    if chat_id not in chat_ids:
        return None
    if removes_viewer(event, me):
        chat_ids.discard(chat_id)
        return _removed(chat_id)
    if event.kind in OWNER_KINDS:
        return owner_event(context, event)
    if event.kind == EventKind.MEMBER_LEFT:
        user = payload["user"]
        if user["id"] == me:
            chat_ids.discard(chat_id)
            return _removed(chat_id)
        return MemberLeft(
            user=User.build(user["id"], user["nickname"]),
            chat_db_id=chat_id,
            line=system_line(payload),
        )
    if event.kind == EventKind.MESSAGE_ADDED:
        row = payload["message"]
        # One object per event for all local subscribers: see shared_events.
        return context.shared_events.object_for(
            "MessageAdded",
            row,
            lambda: MessageAdded(message=Message.from_data(row), chat_db_id=chat_id),
        )
    if event.kind in CHANGE_KINDS:
        row = payload["message"]
        kind = CHANGE_KINDS[event.kind]
        return context.shared_events.object_for(
            kind.__name__,
            row,
            lambda: kind(message=Message.from_data(row), chat_db_id=chat_id),
        )
    if event.kind == EventKind.TYPING:
        if payload["user"]["id"] == me:
            return None
        return context.shared_events.object_for(
            "Typing",
            payload,
            lambda: Typing(
                chat_id=_chat_global_id(chat_id),
                user=User.build(payload["user"]["id"], payload["user"]["nickname"]),
                typing=bool(payload["typing"]),
            ),
        )
    if event.kind == EventKind.MESSAGES_READ:
        return context.shared_events.object_for(
            "MessagesRead",
            payload,
            lambda: MessagesRead(
                chat_id=_chat_global_id(chat_id),
                user=User.build(payload["user"]["id"], payload["user"]["nickname"]),
                read_up_to=int(payload["last_read_message_id"]),
            ),
        )
    return None


def _chat_global_id(chat_id: int) -> strawberry.ID:
    return strawberry.ID(to_global_id("Chat", chat_id))


def _presence_changed(
    context: Context, payload: dict[str, Any], chat_ids: set[int], me: int
) -> PresenceChanged | None:
    """Only for someone else who shares one of the caller's chats (nobody else learns it)."""
    user = payload["user"]
    if user["id"] == me or chat_ids.isdisjoint(payload.get("chat_ids", ())):
        return None
    seen = payload.get("last_seen_at")
    return context.shared_events.object_for(
        "PresenceChanged",
        payload,
        lambda: PresenceChanged(
            user=User.build(user["id"], user["nickname"]),
            online=bool(payload["online"]),
            last_seen_at=parse_datetime(seen) if isinstance(seen, str) else None,
        ),
    )
