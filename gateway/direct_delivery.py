"""Live `MessageAdded` events of a `chatEvents` subscription written straight to its socket.

The regular path of a live event: the broker queues it for the subscription, wakes the
operation's task, and the event goes down that subscriber's chain of async generators
(chat_event_stream, the per-event executor, the subscription runner's loop, the protocol
handler) to one `send`. For a message in a chat of a thousand viewers that is a thousand task
wake-ups and trips down the chain, although the result itself is one template per event filled
in per viewer (gateway/viewer_slots.py): the chain was most of the CPU per delivery
(bench/PROFILE.md).

`DirectMessages` takes a subscription's `MessageAdded` where the broker offers it
(`LocalSubscription.direct`), which it does only while the subscription's stream waits for its
next event with nothing queued (it has handled every event before): it applies the event to the
viewer's state exactly as the stream would (membership per event, ids seen, unread count and
last message of the chat), takes the event's template when it is ready, and writes the viewer's
frame to the socket (gateway/direct_frames.py). Everything else goes the regular way, in order:
any other event, a chat the stream must load first, a token expired or revoked, a frame still
being written, a closed operation. And a `MessageAdded` whose template is not ready now (its
execution awaits something, or this document has none) is kept in `backlog` after the state was
moved on, and the stream yields it before anything else (the event itself is queued to wake it,
and the stream skips it as seen).

The stream waits for a frame being written here before it handles its next event, so it
does not overtake it. Both protocols, `after:` catch-up (the direct path is set once the
stream has caught up), a Resync, complete/stop and errors stay the stream's and the runner's.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from gateway.catchup import SeenIds
from gateway.chat_state import ViewerChats
from gateway.direct_frames import FrameTarget
from gateway.shared_events import SubscriptionEvents, ViewerEvent
from gateway.viewer_slots import ViewerView
from mychat.events import Event, EventKind

if TYPE_CHECKING:
    from gateway.clients import MessageData

log = logging.getLogger(__name__)
Added = TypeVar("Added", bound=ViewerEvent)
Made = TypeVar("Made", bound=ViewerEvent, covariant=True)


def marked_here(payload: dict[str, Any], viewer_id: int, origin: str | None) -> bool:
    """A `messages_read` payload of the viewer's own marker, moved by a markRead of the
    connection named `origin` (Context.origin): that connection was answered already."""
    return (
        origin is not None
        and payload.get("origin") == origin
        and payload["user"]["id"] == viewer_id
    )


class StreamSide(Protocol[Made]):
    """What the direct path asks of the subscription's stream: its own MessageAdded for a row
    (which moves the viewer's chats on), whether the caller is still signed in, and the name
    of the connection in the read markers it moves (Context.origin)."""

    @property
    def origin(self) -> str | None: ...

    def added(self, row: MessageData) -> Made | None: ...

    def signed_in(self) -> bool: ...


class DirectMessages(Generic[Added]):
    """One `chatEvents` subscription's direct path; see the module docstring."""

    __slots__ = (
        "backlog",
        "chats",
        "events",
        "seen",
        "stream",
        "target",
        "viewer_id",
    )

    def __init__(
        self,
        target: FrameTarget,
        events: SubscriptionEvents,
        chats: ViewerChats,
        seen: SeenIds,
        stream: StreamSide[Added],
    ) -> None:
        self.target = target
        self.events = events
        self.viewer_id = chats.viewer_id
        self.chats = chats
        self.seen = seen
        self.stream = stream
        # Made when needed: an idle subscription holds no deque (~600 bytes).
        self.backlog: deque[Added] | None = None

    def offer(self, event: Event) -> bool:
        """Deliver the event here (True), or leave it to the stream (False)."""
        if event.kind is EventKind.MESSAGES_READ:
            return self._own_read(event)
        if event.kind is not EventKind.MESSAGE_ADDED or self.target.closed or self.target.busy:
            return False
        row = event.payload["message"]
        if (
            (event.chat_id and not event.reaches(self.viewer_id))
            or row["id"] in self.seen
            or row["chat_id"] not in self.chats
            or not self.stream.signed_in()
        ):
            return False  # dropped, the chat loaded first, or the stream ends: its way
        self.seen.add(row["id"])
        added = self.stream.added(row)
        if added is None:
            return True  # nothing for this viewer (the stream would skip it too)
        try:
            template = self.events.ready_template(added)
            if template is not None:
                self.target.write(template.render_bytes(ViewerView(self.viewer_id, added.chat)))
                self.events.count_direct()
                return True
        except Exception:
            log.exception("direct delivery failed; the stream delivers the event")
        if self.backlog is None:
            self.backlog = deque()
        self.backlog.append(added)
        return False

    def _own_read(self, event: Event) -> bool:
        """A marker this connection moved: the viewer's state follows and nothing is sent (its
        markRead answer told the page), as the stream would do, without waking it."""
        payload = event.payload
        if (
            not marked_here(payload, self.viewer_id, self.stream.origin)
            or not self.stream.signed_in()
        ):
            return False
        return self.chats.read(event.chat_id, int(payload["last_read_message_id"]))

    def next_backlogged(self) -> Added | None:
        """The oldest MessageAdded this path moved on but left to the stream to send."""
        backlog = self.backlog
        if not backlog:
            return None
        added = backlog.popleft()
        if not backlog:
            self.backlog = None
        return added

    async def written(self) -> None:
        await self.target.written()
