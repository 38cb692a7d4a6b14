"""Internal endpoints for the GraphQL gateway (docs/internal-api.md), on the domain functions."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Route

from chat_service.access import access_chat_for_user, message_not_found, not_a_member
from chat_service.chats import (
    CHATS_PAGE_MAX,
    do_create_chat,
    get_chat_ids_for_user,
    get_chat_state,
    get_chats_by_ids,
    get_chats_for_user,
)
from chat_service.direct_chats import do_start_direct_chat, with_peers
from chat_service.edits import do_delete_message, do_edit_message
from chat_service.endpoints import (
    Call,
    Work,
    add_member_from_body,
    check_membership_rate,
    endpoint,
    parse_id,
    send_message_from_body,
)
from chat_service.members import do_leave_chat, get_members
from chat_service.messages import (
    HISTORY_MAX,
    get_chat_messages,
    get_last_messages,
    get_messages_after,
    get_messages_by_ids,
)
from chat_service.ownership import do_remove_member, do_rename_chat, do_transfer_ownership
from chat_service.reactions import attach_reactions, do_toggle_reaction
from chat_service.read_marker_route import read_markers
from chat_service.search import SEARCH_PAGE_MAX, search_messages
from chat_service.sending import check_send_rate
from chat_service.typing import publish_typing
from chat_service.users import get_contacts
from chat_service.views import MessageView

CHATS_PAGE_DEFAULT = 20
MESSAGES_PAGE_DEFAULT = 50
SEARCH_PAGE_DEFAULT = 20


async def _messages_json(call: Call, messages: list[MessageView], has_more: bool) -> dict[str, Any]:
    """A page for the gateway, with each message's reactions (the REST history has none)."""
    messages = await attach_reactions(call.connection, messages)
    return {"messages": [message.to_response() for message in messages], "has_more": has_more}


async def list_chats(call: Call) -> dict[str, Any]:
    chats, next_cursor = await get_chats_for_user(
        call.connection,
        call.user_id,
        first=call.page_size("first", default=CHATS_PAGE_DEFAULT, maximum=CHATS_PAGE_MAX),
        after=call.query_text("after"),
        with_unread=call.query_flag("unread", default=True),
    )
    listed = [chat.to_json() for chat in chats]
    if call.query_flag("last_message", default=False):
        # Each chat's newest message (with its reactions) in the same call: the chat list.
        found = await get_messages_by_ids(call.connection, [chat.last_message_id for chat in chats])
        present = {m.id: m for m in await attach_reactions(call.connection, list(found.values()))}
        for chat, listed_chat in zip(chats, listed, strict=True):
            last = present.get(chat.last_message_id or 0)
            listed_chat["last_message"] = None if last is None else last.to_response()
    return {"chats": listed, "next_cursor": next_cursor}


async def chats_batch(call: Call) -> dict[str, Any]:
    chats = await get_chats_by_ids(
        call.connection,
        call.user_id,
        call.query_ids("ids"),
        with_unread=call.query_flag("unread", default=True),
    )
    return {"chats": [chat.to_json() for chat in chats]}


async def chat_state(call: Call) -> dict[str, Any]:
    """Every chat of the caller (or those of `?chat_ids=`) with `unread_count` and its newest
    message as `last_message`: one call where a live subscription starts."""
    wanted = call.query_ids("chat_ids") if "chat_ids" in call.request.query_params else None
    found = await get_chat_state(call.connection, call.user_id, wanted)
    return {
        "chats": [
            {
                **state.chat.to_json(),
                "last_message": None
                if state.last_message is None
                else state.last_message.to_response(),
                "unread_counted_up_to": state.counted_up_to,
                "newest_line_id": state.newest_line_id,
            }
            for state in found
        ]
    }


async def chat_ids(call: Call) -> dict[str, Any]:
    return {"chat_ids": await get_chat_ids_for_user(call.connection, call.user_id)}


async def contacts(call: Call) -> dict[str, Any]:
    found = await get_contacts(call.connection, call.user_id, call.query_ids("ids"))
    return {"users": [{"id": user.id, "nickname": user.nickname} for user in found]}


async def members(call: Call) -> dict[str, Any]:
    found = await get_members(call.connection, call.user_id, call.query_ids("chat_ids"))
    return {
        "members": {
            str(chat_id): [member.to_json() for member in chat_members]
            for chat_id, chat_members in found.items()
        }
    }


async def last_messages(call: Call) -> dict[str, Any]:
    found = await get_last_messages(call.connection, call.user_id, call.query_ids("chat_ids"))
    # With their reactions: the same message shows in the chat list and in the chat.
    present = await attach_reactions(call.connection, [m for m in found.values() if m])
    by_chat = {message.chat_id: message for message in present}
    return {
        "messages": {
            str(chat_id): None if chat_id not in by_chat else by_chat[chat_id].to_response()
            for chat_id in found
        }
    }


async def chat_messages(call: Call) -> dict[str, Any]:
    """`?last=&before=` pages back from the newest; `?first=&after=` pages forward.

    `?with_chat=1` adds the chat itself (`?unread=0` skips its count): the gateway's `chat(id)`
    with its first page is then one call.
    """
    chat: dict[str, Any] | None = None
    if call.query_flag("with_chat", default=False):
        chat = await _one_chat(call)
    forward = {"first", "after"} & call.request.query_params.keys()
    backward = {"last", "before"} & call.request.query_params.keys()
    if forward and backward:
        raise call.invalid("first", "Use either first/after or last/before, not both")
    if forward:
        limit = call.page_size("first", default=MESSAGES_PAGE_DEFAULT, maximum=HISTORY_MAX)
        after = call.query_int("after", default=0)
        messages, has_more = await get_chat_messages(
            call.connection, call.chat_id, call.user_id, limit=limit, after=after
        )
    else:
        limit = call.page_size("last", default=MESSAGES_PAGE_DEFAULT, maximum=HISTORY_MAX)
        before = call.query_int("before", default=None)
        messages, has_more = await get_chat_messages(
            call.connection, call.chat_id, call.user_id, limit=limit, before=before
        )
    body = await _messages_json(call, messages, has_more)
    if chat is not None:
        body["chat"] = chat
    return body


async def _one_chat(call: Call) -> dict[str, Any]:
    """The chat as /chats/batch shows it; 404 unknown, 403 not a member."""
    if call.query_flag("unread", default=True):
        found = await get_chats_by_ids(call.connection, call.user_id, [call.chat_id])
        if found:
            return found[0].to_json()
        await access_chat_for_user(call.connection, call.chat_id, call.user_id)  # 404/403
        raise not_a_member()  # added between the two reads: answered as of the first
    # The gateway's chat(id) without unreadCount: one statement (two for a direct chat).
    chat = (await access_chat_for_user(call.connection, call.chat_id, call.user_id)).chat
    return (await with_peers(call.connection, call.user_id, [chat]))[0].to_json()


async def messages_after(call: Call) -> dict[str, Any]:
    after = call.query_int("after", default=None)
    if after is None:
        raise call.invalid("after", "after is required")
    limit = call.page_size("limit", default=HISTORY_MAX, maximum=HISTORY_MAX)
    messages, has_more = await get_messages_after(call.connection, call.user_id, after, limit)
    return await _messages_json(call, messages, has_more)


async def create_chat(call: Call) -> dict[str, Any]:
    name, nicknames = call.text_field("name"), call.text_list_field("member_nicknames")
    chat = await do_create_chat(call.work, name, call.user_id, nicknames)
    # After the input checks (a bad request is a 400 however fast it comes); a refusal here
    # rolls the new chat back before anything is committed or published.
    check_membership_rate(call, chats=1, members=len(nicknames))
    return {"chat": chat.to_json()}


async def add_member(call: Call) -> dict[str, Any]:
    return {"member": (await add_member_from_body(call)).to_json()}


async def leave_chat(call: Call) -> dict[str, Any]:
    await do_leave_chat(call.work, call.chat_id, call.user_id)
    return {"chat_id": call.chat_id}


async def search(call: Call) -> dict[str, Any]:
    """`?q=` words, `?first=` (20, at most 50), `?before=` a message id, `?chat_id=` one chat."""
    query = call.query_text("q")
    if query is None:
        raise call.invalid("query", "Type a word to search for")
    # What this process stored before the search is found by it (chat_service/indexing.py).
    await call.opened.indexer.flush()
    found, has_more, terms = await search_messages(
        call.connection,
        call.user_id,
        query,
        first=call.page_size("first", default=SEARCH_PAGE_DEFAULT, maximum=SEARCH_PAGE_MAX),
        before=call.query_int("before", default=None),
        chat_id=call.query_int("chat_id", default=None),
    )
    return {**(await _messages_json(call, found, has_more)), "terms": terms}


async def rename_chat(call: Call) -> dict[str, Any]:
    chat = await do_rename_chat(call.work, call.chat_id, call.user_id, call.text_field("name"))
    return {"chat": chat.to_json()}


async def remove_member(call: Call) -> dict[str, Any]:
    user_id = call.int_field("user_id")
    await do_remove_member(call.work, call.chat_id, call.user_id, user_id)
    return {"chat_id": call.chat_id, "user_id": user_id}


async def transfer_ownership(call: Call) -> dict[str, Any]:
    owner = await do_transfer_ownership(
        call.work, call.chat_id, call.user_id, call.int_field("user_id")
    )
    return {"member": owner.to_json()}


async def start_direct_chat(call: Call) -> dict[str, Any]:
    chat, created = await do_start_direct_chat(call.work, call.user_id, call.text_field("nickname"))
    if created:  # a new chat counts against the caller's budget of chats and people added
        check_membership_rate(call, chats=1, members=1)
    return {"chat": chat.to_json(), "created": created}


async def send_message(call: Call) -> dict[str, Any]:
    message, created = await send_message_from_body(call, replies=True)
    return {"message": message.to_response(), "created": created}


def _message_id(call: Call) -> int:
    message_id = parse_id(str(call.request.path_params["message_id"]))
    if message_id is None:
        raise message_not_found()
    return message_id


async def edit_message(call: Call) -> dict[str, Any]:
    """Edits count against the sending limit: an edit is a new text for everyone."""
    message_id, text = _message_id(call), call.text_field("text")
    check_send_rate(call.state.send_limiter, call.user_id)
    message = await do_edit_message(call.work, message_id, call.user_id, text)
    return {"message": message.to_response()}


async def toggle_reaction(call: Call) -> dict[str, Any]:
    """Reactions count against the sending limit too."""
    message_id, emoji = _message_id(call), call.text_field("emoji")
    check_send_rate(call.state.send_limiter, call.user_id)
    message = await do_toggle_reaction(call.work, message_id, call.user_id, emoji)
    return {"message": message.to_response()}


async def delete_message(call: Call) -> dict[str, Any]:
    message = await do_delete_message(call.work, _message_id(call), call.user_id)
    return {"message": message.to_response()}


async def typing(call: Call) -> dict[str, Any]:
    """ "<nickname> is typing": published to the chat's members, never stored."""
    await publish_typing(call, call.flag_field("typing", default=True))
    return {"status": "ok"}


def internal_routes() -> list[BaseRoute]:
    def get(path: str, handler: Any, work: Work = Work.READ) -> Route:
        return Route("/internal" + path, endpoint(handler, work), methods=["GET"])

    def post(path: str, handler: Any, work: Work = Work.WRITE, *, reads_body: bool = True) -> Route:
        return Route(
            "/internal" + path, endpoint(handler, work, reads_body=reads_body), methods=["POST"]
        )

    # Work.SHORT_READ: a page or a few chats, what the gateway asks for on every screen (on
    # SQLite read in the loop's thread); the rest may read a user's every chat, or search.
    return [
        get("/chats", list_chats, Work.SHORT_READ),
        post("/chats", create_chat),
        get("/chats/batch", chats_batch, Work.SHORT_READ),
        get("/chat-ids", chat_ids),
        get("/chat-state", chat_state),
        get("/members", members),
        get("/contacts", contacts),
        get("/last-messages", last_messages, Work.SHORT_READ),
        get("/messages", messages_after, Work.SHORT_READ),
        get("/chats/{chat_id}/messages", chat_messages, Work.SHORT_READ),
        get("/search", search),
        post("/chats/{chat_id}/messages", send_message, Work.SEND),
        post("/chats/{chat_id}/members", add_member),
        post("/chats/{chat_id}/leave", leave_chat, reads_body=False),
        post("/chats/{chat_id}/name", rename_chat),
        post("/chats/{chat_id}/remove-member", remove_member),
        post("/chats/{chat_id}/owner", transfer_ownership),
        post("/direct-chats", start_direct_chat),
        # Many readers' marks, each with its token (writes through chat_service.read_markers).
        Route("/internal/read-markers", read_markers, methods=["POST"]),
        post("/chats/{chat_id}/typing", typing, Work.READ),  # publishes, stores nothing
        post("/messages/{message_id}/edit", edit_message),
        post("/messages/{message_id}/delete", delete_message, reads_body=False),
        post("/messages/{message_id}/reactions", toggle_reaction),
    ]
