"""Query root: the caller, their chats, one chat, any object by global id."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import strawberry
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
)

from gateway import described
from gateway.accounts import AccountQuery
from gateway.clients import ChatData, ListedChatData, ServiceError
from gateway.context import Context
from gateway.errors import ClientFacingError, unauthenticated_error
from gateway.ids import InvalidGlobalId, from_global_id
from gateway.types import (
    Chat,
    ChatConnection,
    ChatEdge,
    Message,
    Node,
    PageInfo,
    PageRequest,
    User,
    Viewer,
    parse_datetime,
)

DEFAULT_CHAT_PAGE = 20
MAX_CHAT_PAGE = 100

Info = strawberry.Info[Context, None]
Fragments = dict[str, FragmentDefinitionNode]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def chat_cursor(row: ChatData) -> str:
    """The keyset cursor chat_service pages by (its next_cursor format): activity, then id."""
    micros = (parse_datetime(row["last_activity_at"]) - EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}:{row['id']}".encode()).decode().rstrip("=")


async def load_chat(info: Info, chat_id: int) -> Chat | None:
    """A chat the caller is a member of, or None (unknown and foreign chats look the same)."""
    row = await info.context.loaders.chats.load(chat_id)
    return None if row is None else Chat.from_data(row)


@strawberry.type
class Query(AccountQuery):
    @described.field("The signed-in user; null without a valid token.")
    async def me(self, info: Info) -> Viewer | None:
        viewer = info.context.viewer
        if viewer is None:
            return None
        # The verified token is auth_service's signed statement of who this is (logins and
        # nicknames never change): no service round trip.
        return Viewer.from_claims(viewer)

    @described.field("The caller's chats, newest activity first.")
    async def chats(
        self, info: Info, first: int | None = DEFAULT_CHAT_PAGE, after: str | None = None
    ) -> ChatConnection:
        if info.context.viewer is None:
            raise unauthenticated_error()
        first = DEFAULT_CHAT_PAGE if first is None else first
        if not 1 <= first <= MAX_CHAT_PAGE:
            raise ClientFacingError(
                f"`first` must be between 1 and {MAX_CHAT_PAGE}", "BAD_USER_INPUT"
            )
        try:
            page = await info.context.chat().chats(
                first, after, last_message=_selects_last_message(info)
            )
        except ServiceError as error:
            raise ClientFacingError(error.message, error.code.upper()) from error
        rows = page["chats"]
        info.context.loaders.prime_chats(rows)
        next_cursor = page["next_cursor"]
        edges = [ChatEdge(cursor=chat_cursor(row), node=_listed_chat(row)) for row in rows]
        return ChatConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=next_cursor is not None,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @described.field("A chat you are a member of; null for any other id.")
    async def chat(self, info: Info, id: strawberry.ID) -> Chat | None:
        if info.context.viewer is None:
            return None
        wanted = _wanted_page(info)
        if wanted is not None:
            request, unread = wanted
            try:
                return await _chat_with_page(info, id, request, unread=unread)
            except ServiceError as error:
                if error.status in (403, 404):
                    return None  # unknown and foreign chats look the same
                # Anything else: the usual two calls, so the page's error lands on its field.
        node = await resolve_node(info, id)
        return node if isinstance(node, Chat) else None

    @described.field("A Chat or User by global id (messages: through their chat).")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        if info.context.viewer is None:
            return None
        return await resolve_node(info, id)


def _flattened(selection_set: SelectionSetNode, fragments: Fragments) -> list[FieldNode]:
    """The fields of a selection set, fragments flattened (directives and type conditions do not
    matter here: a page fetched but not used, or an unread count not shown, costs only the
    work). Validation has refused fragment cycles and unknown fragments."""
    fields: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            fields.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            fields.extend(_flattened(selection.selection_set, fragments))
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                fields.extend(_flattened(fragment.selection_set, fragments))
    return fields


def _under(fields: list[FieldNode], name: str, fragments: Fragments) -> list[FieldNode]:
    """The fields selected under every `name` field among `fields`."""
    found: list[FieldNode] = []
    for field in fields:
        if field.name.value == name and field.selection_set is not None:
            found.extend(_flattened(field.selection_set, fragments))
    return found


def _selection(info: Info) -> tuple[list[FieldNode], Fragments] | None:
    """The fields selected under this root field, from the operation's document (None when the
    context has not got it). Strawberry's `info.selected_fields` would convert the whole
    selection, every field's arguments and directives, on each call: 80-150 us for a history
    page's document, 90 us for the chat list's (bench/PROFILE.md)."""
    document = info.context.document
    operation = info.operation
    if document is None or not any(node is operation for node in document.definitions):
        return None
    fragments = {
        node.name.value: node
        for node in document.definitions
        if isinstance(node, FragmentDefinitionNode)
    }
    key = info.path.key
    fields = [
        field
        for field in _flattened(operation.selection_set, fragments)
        if (field.alias or field.name).value == key
    ]
    return [sub for field in fields for sub in _flattened_or_none(field, fragments)], fragments


def _flattened_or_none(field: FieldNode, fragments: Fragments) -> list[FieldNode]:
    return [] if field.selection_set is None else _flattened(field.selection_set, fragments)


def _argument(field: FieldNode, name: str, variables: dict[str, Any]) -> object:
    """An argument's value as the resolver will get it: a literal, or a variable's value
    (None when absent); _UNREADABLE for anything else (a list, an object)."""
    for argument in field.arguments or ():
        if argument.name.value == name:
            value = argument.value
            if isinstance(value, VariableNode):
                return variables.get(value.name.value)
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, StringValueNode):
                return value.value
            if isinstance(value, NullValueNode):
                return None
            return _UNREADABLE
    return None


_UNREADABLE = object()


def _listed_chat(row: ListedChatData) -> Chat:
    """A chat of the list; with its newest message when the row has it (asked for with the
    page): each `lastMessage` is then read without its resolver (gateway/plain_fields.py)."""
    chat = Chat.from_data(row)
    if "last_message" in row:
        last = row["last_message"]
        chat.known_last_message = None if last is None else Message.from_data(last)
        chat.last_message_known = True
    return chat


def _selects_last_message(info: Info) -> bool:
    """Whether `chats { edges { node { lastMessage } } }` is asked for."""
    selection = _selection(info)
    if selection is None:
        return False  # each chat's resolver loads it
    fields, fragments = selection
    nodes = _under(_under(fields, "edges", fragments), "node", fragments)
    return any(field.name.value == "lastMessage" for field in nodes)


def _wanted_page(info: Info) -> tuple[PageRequest, bool] | None:
    """The one `messages` page selected under this `chat` (and whether `unreadCount` is), or
    None: no page, several, or arguments the field itself will refuse."""
    selection = _selection(info)
    if selection is None:
        return None
    fields = selection[0]
    pages = [field for field in fields if field.name.value == "messages"]
    if len(pages) != 1:
        return None
    variables = info.variable_values
    after, before, first, last = (
        _argument(pages[0], name, variables) for name in ("after", "before", "first", "last")
    )
    if not all(isinstance(value, str | None) for value in (after, before)):
        return None
    try:
        request = PageRequest.parse(
            first=_int_argument(first),
            after=cast("str | None", after),
            last=_int_argument(last),
            before=cast("str | None", before),
        )
    except (ValueError, ClientFacingError):
        return None
    return request, any(field.name.value == "unreadCount" for field in fields)


def _int_argument(value: object) -> int | None:
    """An Int argument's value (validation already checked it is an Int or null)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ValueError("not an Int")


async def _chat_with_page(
    info: Info, global_id: str, request: PageRequest, *, unread: bool
) -> Chat | None:
    """`chat(id)` and its page in one service call; the page waits for Chat.messages."""
    try:
        type_name, chat_id = from_global_id(global_id)
    except InvalidGlobalId:
        return None
    if type_name != "Chat":
        return None
    page = await request.fetch(info.context.chat(), chat_id, with_chat=True, unread=unread)
    row = page["chat"]
    loaders = info.context.loaders
    loaders.message_pages[request.key(chat_id)] = page
    if unread:  # a row without its count must not answer another field that shows it
        loaders.chats.prime(chat_id, row)
    return Chat.from_data(row)


async def resolve_node(info: Info, global_id: str) -> Node | None:
    try:
        type_name, database_id = from_global_id(global_id)
    except InvalidGlobalId:
        return None
    if type_name == "Chat":
        return await load_chat(info, database_id)
    if type_name == "User":
        row = await info.context.loaders.users.load(database_id)
        return None if row is None else User.from_data(row)
    return None
