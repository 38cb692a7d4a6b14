"""One execution and one JSON encoding of a chat event for all its viewers, with slots.

A `MessageAdded` (or an edit, deletion or reaction) is the same for every viewer but for a few
leaves: the chat's `unreadCount` and `myRole` (their own, gateway/chat_state.py) and each
reaction's `reactedByMe`. The first viewer's execution runs with a recording middleware
(graphql-core's public `MiddlewareManager`) that notes where those leaves are and how to read
them for anyone; the result is encoded once with a NUL byte at each of them (orjson never
writes one: JSON escapes control characters inside strings) and split there. Each viewer's
data is then the segments joined with their own values, handed to Strawberry as an
`orjson.Fragment` (raw JSON, public orjson API) that the view's `encode_json` embeds as it is,
on both WebSocket protocols.

The rest of a viewer's chat (name, last message, last activity, the other person of a direct
chat) is part of the template's key (`Chat.shared_part`), not a slot: those differ between
viewers rarely (a direct chat has two), and a key that differs just means another template.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import orjson
from graphql import ExecutionResult, GraphQLLeafType, GraphQLResolveInfo, get_named_type

SLOT_MARK = b"\x00"


@dataclass(frozen=True, slots=True)
class ViewerView:
    """What a slot reads for one viewer: who they are and their chat of the event."""

    user_id: int | None
    chat: Any  # gateway.types.Chat (types imports this package's context module)


# How to read a per-viewer leaf for a viewer, from the object it is a field of.
Reader = Callable[[object, ViewerView], object]


def _reacted_by_me(source: object, view: ViewerView) -> object:
    user_ids: frozenset[int] = getattr(source, "user_ids", frozenset())
    return view.user_id is not None and view.user_id in user_ids


# (GraphQL type, field) -> its reader: every leaf whose value depends on who is looking. The
# Chat ones read the viewer's chat of the event: a template whose Chat leaves sit on another
# Chat object (none of the event types has one) is not made.
VIEWER_FIELDS: dict[tuple[str, str], Reader] = {
    ("Chat", "unreadCount"): lambda _source, view: view.chat.unread_count,
    ("Chat", "myRole"): lambda _source, view: view.chat.my_role,
    ("Reaction", "reactedByMe"): _reacted_by_me,
}
# Resolvers a template may run: their results are the same for every viewer of the event
# (`lastMessage` of an event's chat is known, and part of the template's key).
SHARED_RESOLVERS = frozenset({("Chat", "lastMessage")})
# The fields a template's selection may read besides plain ones.
TEMPLATE_FIELDS = SHARED_RESOLVERS | frozenset(VIEWER_FIELDS)


class Same:
    """An object compared by identity in a key (and kept alive while the key is)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and other.value is self.value

    def __hash__(self) -> int:
        return id(self.value)


class Slot:
    """One per-viewer leaf of a template: where it is (a path in the result) and how to read
    and coerce it for a viewer. Not a dataclass: orjson would encode one as an object."""

    __slots__ = ("leaf", "path", "reader", "source")

    def __init__(
        self, path: list[str | int], source: object, reader: Reader, leaf: GraphQLLeafType
    ) -> None:
        self.path = path
        self.source = source
        self.reader = reader
        self.leaf = leaf

    def value(self, view: ViewerView) -> bytes:
        return orjson.dumps(self.leaf.coerce_output_value(self.reader(self.source, view)))


class SlotRecorder:
    """graphql-core middleware for the template's execution: notes each per-viewer leaf."""

    def __init__(self, event_chat: object) -> None:
        self.event_chat = event_chat
        self.slots: list[Slot] = []
        self.unmapped = False  # a Chat leaf of another chat than the event's

    def resolve(
        self, next_: Callable[..., Any], root: Any, info: GraphQLResolveInfo[Any], **args: Any
    ) -> Any:
        reader = VIEWER_FIELDS.get((info.parent_type.name, info.field_name))
        if reader is not None:
            if info.parent_type.name == "Chat" and root is not self.event_chat:
                self.unmapped = True
            leaf = get_named_type(info.return_type)
            assert isinstance(leaf, GraphQLLeafType), leaf
            self.slots.append(Slot(info.path.as_list(), root, reader, leaf))
        return next_(root, info, **args)


class Template:
    """An event's result for one document, encoded once, with a gap at each per-viewer leaf."""

    def __init__(self, data: dict[str, Any], slots: list[Slot]) -> None:
        for slot in slots:
            _mark(data, slot)
        order: list[Slot] = []

        def gap(value: object) -> orjson.Fragment:
            if not isinstance(value, Slot):
                raise TypeError(f"not JSON: {type(value).__name__}")
            order.append(value)
            return orjson.Fragment(SLOT_MARK)

        self.segments = orjson.dumps(data, default=gap).split(SLOT_MARK)
        self.slots = order  # in the order they appear in the bytes

    def render(self, view: ViewerView) -> ExecutionResult:
        """The viewer's result: the shared bytes with their own values in the gaps."""
        # The data, already JSON: the view's orjson `encode_json` embeds a Fragment as it is.
        data = orjson.Fragment(self.render_bytes(view))
        return ExecutionResult(data=cast("dict[str, Any]", data))

    def render_bytes(self, view: ViewerView) -> bytes:
        """The viewer's data as JSON: the shared bytes with their own values in the gaps."""
        segments = self.segments
        parts = [segments[0]]
        for slot, segment in zip(self.slots, segments[1:], strict=True):
            parts.append(slot.value(view))
            parts.append(segment)
        return b"".join(parts)


def _mark(data: dict[str, Any], slot: Slot) -> None:
    """Put the slot in place of its leaf in `data`, if it is there (not under a null parent)."""
    node: Any = data
    last: Any = slot.path[-1]  # a key or an index
    for key in slot.path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return
    if (isinstance(node, dict) and last in node) or (
        isinstance(node, list) and isinstance(last, int) and last < len(node)
    ):
        node[last] = slot
