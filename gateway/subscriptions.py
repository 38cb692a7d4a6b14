"""Subscription root: live messages of one chat, or every event of all the caller's chats.

Catch-up without gap or duplicate: subscribe to the broker first, then read the missed rows
from chat_service, then yield live events whose ids were not yielded yet. A Resync from the
broker (reconnect, slow consumer) re-reads from the highest id yielded.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, TypeVar

import strawberry

from gateway import described
from gateway.catchup import SeenIds
from gateway.chat_state import ViewerChats
from gateway.clients import ChatClient, MessageData, ServiceError, ServiceUnavailable
from gateway.context import Context
from gateway.direct_delivery import DirectMessages, marked_here
from gateway.direct_frames import OPERATION
from gateway.errors import ClientFacingError, unauthenticated_error
from gateway.expiries import token_expired
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
from gateway.shared_events import ViewerEvent
from gateway.types import Chat, ChatRole, Member, Message, User, parse_datetime
from mychat.broker import Resync
from mychat.events import Event, EventKind

Info = strawberry.Info[Context, None]
CATCH_UP_PAGE = 200
CATCH_UP_ALL_PAGE = 500
# A read of the chatEvents path that fails (chat_service timed out, answered 5xx, could not be
# reached) is tried again after each of these pauses (jittered: a crowd of subscriptions
# starting together must not retry in step) before the subscription ends SERVICE_UNAVAILABLE.
READ_RETRY_DELAYS = (0.25, 1.0, 3.0)

log = logging.getLogger(__name__)
Read = TypeVar("Read")


@strawberry.type
class MessageAdded(ViewerEvent):
    message: Message
    chat: Chat  # the viewer's: gateway/chat_state.py


@strawberry.type(description="A message was edited: `message` has the new text and `editedAt`.")
class MessageEdited(ViewerEvent):
    message: Message
    chat: Chat


@strawberry.type(
    description="A message was deleted: `message` is its tombstone (empty text, `deletedAt`)."
)
class MessageDeleted(ViewerEvent):
    message: Message
    chat: Chat


@strawberry.type(
    description="Someone reacted to a message or took a reaction back: `message.reactions` is"
    " its whole summary now."
)
class ReactionsChanged(ViewerEvent):
    message: Message
    chat: Chat


# The stored changes to a message already delivered, by event kind.
CHANGE_KINDS: dict[EventKind, type[MessageEdited | MessageDeleted | ReactionsChanged]] = {
    EventKind.MESSAGE_EDITED: MessageEdited,
    EventKind.MESSAGE_DELETED: MessageDeleted,
    EventKind.REACTIONS_CHANGED: ReactionsChanged,
}


@strawberry.type
class MemberAdded:
    chat: Chat
    member: Member
    line: Message | None = strawberry.field(
        default=None, description='The system line "X joined" stored in the history.'
    )


@strawberry.type
class MemberLeft:
    user: User
    chat: Chat
    line: Message | None = strawberry.field(
        default=None, description='The system line "X left" stored in the history.'
    )


@strawberry.type
class AddedToChat:
    chat: Chat


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


@strawberry.type(
    description="A member has read the chat up to `readUpTo` (read receipts). Sent to that"
    " member's own subscriptions (but not to the WebSocket connection whose markRead moved the"
    " marker: its answer said so) and to the members who wrote a message it moved past (their"
    " receipts changed), not to every member."
)
class MessagesRead:
    chat_id: strawberry.ID
    user: User
    read_up_to: int
    own_chat: Chat | None = strawberry.field(
        default=None,
        description="When the reader is you (another of your tabs or devices read the chat):"
        " your chat as the read left it, its `unreadCount` included, so every open page drops"
        " the badge at once. Null for someone else's read. (Not `chat`: other events' `chat`"
        " is non-null, and one selection may not ask both.)",
    )


@strawberry.type(
    description="Someone you share a chat with came online or went offline (any gateway)."
)
class PresenceChanged:
    user: User
    online: bool
    last_seen_at: datetime | None


@strawberry.type(
    description="Presence changes of people you share a chat with (any gateway), gathered over"
    " a moment: what `chatEvents(signals: true, presenceBatches: true)` sends instead of one"
    " PresenceChanged per person. In the order they happened; a person may appear twice."
)
class PresencesChanged:
    changes: list[PresenceChanged]


# Live signals, which chatEvents yields only when asked (`signals: true`).
SIGNALS = (Typing, MessagesRead, PresenceChanged, PresencesChanged)

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
    | PresencesChanged
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
            page = await retried(
                partial(client.messages, chat_id, first=CATCH_UP_PAGE, after=after)
            )
        except ServiceError as error:
            if error.status in (403, 404):
                raise _left_error() from error
            raise
        for row in page["messages"]:
            yield row
        if not page["has_more"] or not page["messages"]:
            return
        after = page["messages"][-1]["id"]


async def retried(read: Callable[[], Awaitable[Read]]) -> Read:
    """The read's answer, asked again (READ_RETRY_DELAYS) while the service is unavailable.

    Only reads: they change nothing, so a second try after a timeout is safe."""
    for attempt, delay in enumerate(READ_RETRY_DELAYS, start=1):
        try:
            return await read()
        except ServiceUnavailable as error:
            log.info("subscription read failed (attempt %d), retrying: %s", attempt, error)
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
    return await read()


async def _all_history_after(client: ChatClient, after: int) -> AsyncIterator[MessageData]:
    while True:
        page = await retried(partial(client.messages_after, after, CATCH_UP_ALL_PAGE))
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
            newest = await retried(partial(info.context.chat().messages, chat_db_id, last=1))
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
        "MessagesRead (read receipts) and PresenceChanged; with `presenceBatches: true` the"
        " presence changes come as PresencesChanged, one per batch a gateway gathered (a"
        " crowd arriving at once is a few frames, not one per person)."
    )
    async def chat_events(
        self,
        info: Info,
        after: strawberry.ID | None = None,
        signals: bool = False,
        presence_batches: bool = False,
    ) -> AsyncGenerator[ChatEvent, None]:
        _require_viewer(info)
        return chat_event_stream(
            info.context, _after_id(after), signals=signals, presence_batches=presence_batches
        )


async def message_stream(
    context: Context, chat_id: int, after: int
) -> AsyncGenerator[Message, None]:
    viewer = context.viewer
    if viewer is None:
        raise unauthenticated_error()
    with context.resources.limits.subscription(viewer.user_id):
        # Events addressed to others (after the viewer left, say) do not even wake it.
        async with context.broker.subscribe(viewer.user_id) as subscription:
            # Now that we listen, catch up from `after` (this checks membership again). Clients
            # are made per use: an idle subscription holds none.
            seen = SeenIds(after)
            async for row in _chat_history_after(context.chat(), chat_id, after):
                if row["id"] not in seen:
                    seen.add(row["id"])
                    yield Message.from_data(row)
            with context.resources.expiries.watching(viewer.expires_at, subscription):
                async for item in subscription:
                    if context.viewer is None:  # signed out: the token is good no more
                        raise token_expired()
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
    context: Context, after: int | None, *, signals: bool = False, presence_batches: bool = False
) -> AsyncGenerator[ChatEvent, None]:
    """Every event for the viewer's chats. Their state (gateway/chat_state.py) is loaded once
    here and on a Resync; an event is then delivered without a service call (adds to a chat
    and partial read markers excepted: they load that one chat)."""
    viewer = context.viewer
    if viewer is None:
        raise unauthenticated_error()
    me = viewer.user_id
    with context.resources.limits.subscription(me):
        chats = ViewerChats(me, partial(_shared_message, context))
        if after is None:
            # "From now" is the newest message before we listen: one committed while we start
            # has its event queued or not (published before we listened), so the catch-up
            # brings it, and `seen` drops the twin.
            await retried(partial(chats.load, context.chat()))
            after = chats.newest_message_id()
        # Only events addressed to the viewer (or to nobody in particular) wake it.
        async with context.broker.subscribe(me) as subscription:
            # Again, now that we listen: the events move it on exactly.
            await retried(partial(chats.load, context.chat()))
            # A chat created (or joined) after we listened but before this read is in `chats`
            # already, and its event waits in the queue: announce it all the same (once), or
            # the caller never hears of it. Harmless if they had it.
            unannounced = chats.ids()
            seen = SeenIds(after)
            async for replayed in _caught_up(context, chats, seen, after):
                yield replayed
            # Live MessageAdded events written straight to the socket while this waits.
            direct = _direct_messages(context, chats, seen)
            subscription.direct = None if direct is None else direct.offer
            with context.resources.expiries.watching(viewer.expires_at, subscription):
                async for item in subscription:
                    if context.viewer is None:  # signed out: the token is good no more
                        raise token_expired()
                    if direct is not None:
                        await direct.written()  # a frame it is writing goes first
                    while (
                        direct is not None and (backlogged := direct.next_backlogged()) is not None
                    ):
                        yield backlogged  # moved on by the direct path, sent here
                    if isinstance(item, Resync):
                        before = chats.ids()
                        await retried(partial(chats.load, context.chat()))
                        for gone in before - chats.ids():
                            yield _removed(gone)
                        for added in chats.ids() - before:
                            yield AddedToChat(chat=chats.chats[added].chat())
                        async for replayed in _caught_up(context, chats, seen, seen.highest):
                            yield replayed
                        continue
                    if item.chat_id and not item.reaches(me):
                        continue  # membership per event: not a member when it committed
                    if item.kind == EventKind.MESSAGE_ADDED:
                        row = item.payload["message"]
                        if row["id"] in seen:
                            continue
                        if row["chat_id"] not in chats and item.recipients is not None:
                            # Added to this chat, not told yet: its state.
                            await retried(partial(chats.load, context.chat(), [row["chat_id"]]))
                        seen.add(row["id"])
                        message_event = _message_added(context, chats, row)
                        if message_event is not None:
                            yield message_event
                        continue
                    if item.kind == EventKind.PRESENCE_CHANGED:
                        if signals:
                            for presence in _presence_changes(
                                context, item.payload, chats.ids(), me, batched=presence_batches
                            ):
                                yield presence
                        continue
                    event = await _chat_event(context, item, chats, unannounced)
                    line = getattr(event, "line", None)
                    if isinstance(line, Message):
                        seen.add(line.database_id)  # a catch-up must not repeat the system line
                    if event is not None and (signals or not isinstance(event, SIGNALS)):
                        yield event


async def _caught_up(
    context: Context, chats: ViewerChats, seen: SeenIds, since: int
) -> AsyncIterator[MessageAdded]:
    """The viewer's messages after `since` not yielded yet (a module function, not a closure:
    the stream's frame would keep a closure and its cells for the subscription's life)."""
    async for row in _all_history_after(context.chat(), since):
        if row["id"] not in seen:
            seen.add(row["id"])
            event = _message_added(context, chats, row)
            if event is not None:
                yield event


def _direct_messages(
    context: Context, chats: ViewerChats, seen: SeenIds
) -> DirectMessages[MessageAdded] | None:
    """The direct path of this subscription (gateway/direct_delivery.py), when it has a frame
    target (a WebSocket operation) and its events are executed by ours."""
    target = OPERATION.get()
    events = context.subscription_events
    if target is None or events is None:
        return None
    return DirectMessages(target, events, chats, seen, _ChatEventStream(context, chats))


class _ChatEventStream:
    """What the direct path asks of chat_event_stream (gateway/direct_delivery.py StreamSide):
    one object, where closures over the stream's locals cost ~400 bytes per subscription."""

    __slots__ = ("chats", "context")

    def __init__(self, context: Context, chats: ViewerChats) -> None:
        self.context = context
        self.chats = chats

    @property
    def origin(self) -> str | None:
        return self.context.origin

    def added(self, row: MessageData) -> MessageAdded | None:
        return _message_added(self.context, self.chats, row)

    def signed_in(self) -> bool:
        return self.context.viewer is not None


def _shared_message(context: Context, row: MessageData) -> Message:
    # One object per event for all local subscribers: see shared_events.
    return context.shared_events.object_for("Message", row, partial(Message.from_data, row))


def _message_added(context: Context, chats: ViewerChats, row: MessageData) -> MessageAdded | None:
    message = _shared_message(context, row)
    state = chats.message(row, message)
    if state is None:
        return None
    # The same object for all the viewer's subscriptions in this process (their states agree):
    # shared_events then executes a selection with resolvers once per user and event.
    by_viewer = context.shared_events.object_for("MessageAdded", row, dict[int, MessageAdded])
    found = by_viewer.get(chats.viewer_id)
    if found is None:
        found = by_viewer[chats.viewer_id] = MessageAdded(message=message, chat=state.chat())
    return found


async def _chat_event(
    context: Context, event: Event, chats: ViewerChats, unannounced: set[int]
) -> ChatEvent | None:
    """The viewer's view of one broker event (not a message), updating their chats (and the
    set of those loaded at the start that no event has announced yet)."""
    me = chats.viewer_id
    chat_id = event.chat_id
    payload = event.payload
    if event.kind == EventKind.CHAT_CREATED:
        if me not in payload.get("member_ids", ()):
            return None
        if chat_id in chats:
            return _announce(chats, chat_id, unannounced)
        if payload["chat"].get("direct"):  # named after the other person: one call
            await retried(partial(chats.load, context.chat(), [chat_id]))
            state = chats.chats.get(chat_id)
            return None if state is None else AddedToChat(chat=state.chat())
        return AddedToChat(chat=chats.created(payload["chat"]).chat())
    if event.kind == EventKind.MEMBER_ADDED:
        user = payload["user"]
        if user["id"] == me:
            if chat_id in chats:
                return _announce(chats, chat_id, unannounced)
            # Its unread count: one call.
            await retried(partial(chats.load, context.chat(), [chat_id]))
            state = chats.chats.get(chat_id)
            context.reset_loaders()  # its members are read now
            return None if state is None else AddedToChat(chat=state.chat())
        if chat_id not in chats:
            return None
        joined = payload.get("joined_at")
        member = Member(
            user=User.build(user["id"], user["nickname"]),
            role=ChatRole.MEMBER,
            joined_at=parse_datetime(joined) if isinstance(joined, str) else datetime.now(UTC),
            user_db_id=user["id"],
        )
        context.reset_loaders()  # `chat { members }` reads the new list
        return MemberAdded(
            chat=chats.chats[chat_id].chat(), member=member, line=system_line(payload)
        )
    if chat_id not in chats:
        return None
    if removes_viewer(event, me):
        chats.remove(chat_id)
        return _removed(chat_id)
    if event.kind in OWNER_KINDS:
        chats.owner_action(event)
        return owner_event(context, event)
    if event.kind == EventKind.MEMBER_LEFT:
        user = payload["user"]
        if user["id"] == me:
            chats.remove(chat_id)
            return _removed(chat_id)
        context.reset_loaders()
        return MemberLeft(
            user=User.build(user["id"], user["nickname"]),
            chat=chats.chats[chat_id].chat(),
            line=system_line(payload),
        )
    if event.kind in CHANGE_KINDS:
        row = payload["message"]
        message = _shared_message(context, row)
        state = chats.changed(chat_id, message)
        return CHANGE_KINDS[event.kind](message=message, chat=state.chat())
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
        read_up_to = int(payload["last_read_message_id"])
        if payload["user"]["id"] == me:
            if not chats.read(chat_id, read_up_to):
                # Part of an old backlog read: reload that chat.
                await retried(partial(chats.load, context.chat(), [chat_id]))
            if marked_here(payload, me, context.origin):
                return None  # its markRead answer told the page
            state = chats.chats.get(chat_id)
            return MessagesRead(  # the viewer's own: not shared with the senders it tells
                chat_id=_chat_global_id(chat_id),
                user=User.build(me, payload["user"]["nickname"]),
                read_up_to=read_up_to,
                own_chat=None if state is None else state.chat(),
            )
        return context.shared_events.object_for(
            "MessagesRead",
            payload,
            lambda: MessagesRead(
                chat_id=_chat_global_id(chat_id),
                user=User.build(payload["user"]["id"], payload["user"]["nickname"]),
                read_up_to=read_up_to,
            ),
        )
    return None


def _announce(chats: ViewerChats, chat_id: int, unannounced: set[int]) -> AddedToChat | None:
    """AddedToChat for a chat loaded at the start whose own event comes only now (once)."""
    if chat_id not in unannounced:
        return None  # announced already
    unannounced.discard(chat_id)
    return AddedToChat(chat=chats.chats[chat_id].chat())


def _chat_global_id(chat_id: int) -> strawberry.ID:
    return strawberry.ID(to_global_id("Chat", chat_id))


def _presence_changes(
    context: Context, payload: dict[str, Any], chat_ids: set[int], me: int, *, batched: bool
) -> list[PresenceChanged] | list[PresencesChanged]:
    """The changes of a batch the viewer may learn: someone else's, who shares one of the
    viewer's chats (nobody else learns them). One PresencesChanged for them all when `batched`;
    viewers who may learn the same changes share the objects (and so their execution)."""
    changes: list[dict[str, Any]] = payload.get("changes") or [payload]  # one: older gateways
    kept = tuple(
        index
        for index, change in enumerate(changes)
        if change["user"]["id"] != me and not chat_ids.isdisjoint(change.get("chat_ids", ()))
    )
    if not kept:
        return []
    built = context.shared_events.object_for(
        "PresenceChanged", payload, lambda: [_presence_changed(change) for change in changes]
    )
    if not batched:
        return [built[index] for index in kept]
    by_subset = context.shared_events.object_for(
        "PresencesChanged", payload, dict[tuple[int, ...], PresencesChanged]
    )
    batch = by_subset.get(kept)
    if batch is None:
        batch = by_subset[kept] = PresencesChanged(changes=[built[index] for index in kept])
    return [batch]


def _presence_changed(change: dict[str, Any]) -> PresenceChanged:
    user, seen = change["user"], change.get("last_seen_at")
    return PresenceChanged(
        user=User.build(user["id"], user["nickname"]),
        online=bool(change["online"]),
        last_seen_at=parse_datetime(seen) if isinstance(seen, str) else None,
    )
