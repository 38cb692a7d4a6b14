"""The seed's REST API (/mychat/api/chat/...), with the seed's success bodies."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Route

from chat_service.chats import do_create_chat, get_chats_newest_first
from chat_service.endpoints import (
    Call,
    Work,
    add_member_from_body,
    check_membership_rate,
    endpoint,
    send_message_from_body,
)
from chat_service.members import do_leave_chat
from chat_service.messages import HISTORY_DEFAULT, HISTORY_MAX, get_written_messages

PREFIX = "/mychat/api/chat"
OK = {"status": "ok"}


async def list_chats(call: Call) -> list[dict[str, Any]]:
    return [
        chat.to_seed_json() for chat in await get_chats_newest_first(call.connection, call.user_id)
    ]


async def chat_history(call: Call) -> list[dict[str, Any]]:
    messages = await get_written_messages(
        call.opened.autocommit_engine,
        call.chat_id,
        call.user_id,
        limit=call.page_size("limit", default=HISTORY_DEFAULT, maximum=HISTORY_MAX),
        before=call.query_int("before", default=None),
        loop_reader=call.opened.loop_reader,
    )
    return [message.to_seed_json() for message in messages]


async def create_chat(call: Call) -> dict[str, Any]:
    name = call.text_field("name")
    check_membership_rate(call, chats=1)
    chat = await do_create_chat(call.work, name, call.user_id)
    return {"chat_id": chat.id}


async def leave_chat(call: Call) -> dict[str, Any]:
    await do_leave_chat(call.work, call.chat_id, call.user_id)
    return OK


async def send_message(call: Call) -> dict[str, Any]:
    message, _created = await send_message_from_body(call)
    return {**OK, "message": {**message.to_seed_json(), "client_id": message.client_id}}


async def add_user(call: Call) -> dict[str, Any]:
    await add_member_from_body(call)
    return OK


def public_routes() -> list[BaseRoute]:
    list_endpoint = endpoint(list_chats, Work.READ)
    create_endpoint = endpoint(create_chat, Work.WRITE, reads_body=True)
    return [
        # The seed's pages call the trailing-slash form; both answer without a redirect.
        *(Route(path, list_endpoint, methods=["GET"]) for path in (PREFIX, PREFIX + "/")),
        *(Route(path, create_endpoint, methods=["POST"]) for path in (PREFIX, PREFIX + "/")),
        Route(PREFIX + "/{chat_id}", endpoint(chat_history, Work.DRIVER), methods=["GET"]),
        Route(PREFIX + "/{chat_id}/leave", endpoint(leave_chat, Work.WRITE), methods=["POST"]),
        Route(
            PREFIX + "/{chat_id}/message",
            endpoint(send_message, Work.SEND, reads_body=True),
            methods=["POST"],
        ),
        Route(
            PREFIX + "/{chat_id}/add-user",
            endpoint(add_user, Work.WRITE, reads_body=True, seed_errors=True),
            methods=["POST"],
        ),
    ]
