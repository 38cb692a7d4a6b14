"""chatEvents and messageAdded survive an inner service read that fails (a timeout's 504 on a
state load, a membership check or a catch-up page): the read is tried again, and the
subscription delivers as usual."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from mychat.settings import Settings
from tests.gateway.conftest import serve_live
from tests.gateway.test_subscriptions import next_data
from tests.support.websocket import LEGACY_WS, TRANSPORT_WS, graphql_socket

CHAT_EVENTS = """subscription {
  chatEvents { __typename ... on MessageAdded { message { text } chat { unreadCount } } }
}"""


class TimesOut:
    """In front of chat_service: the first `times` reads of a path ending in `path` get what a
    proxy answers when the service took too long (504, no JSON); the rest reach the service."""

    def __init__(self, path: str, times: int) -> None:
        self.app: ASGIApp | None = None  # the service, set when the server is composed
        self.path = path
        self.left = times
        self.failed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._matches(scope) and self.left > 0:
            self.left -= 1
            self.failed += 1
            headers = [(b"content-type", b"text/plain")]
            await send({"type": "http.response.start", "status": 504, "headers": headers})
            await send({"type": "http.response.body", "body": b"upstream timed out"})
            return
        assert self.app is not None
        await self.app(scope, receive, send)

    def _matches(self, scope: Scope) -> bool:
        return bool(scope["method"] == "GET" and scope["path"].endswith(self.path))


async def first_message_after_faults(
    settings: Settings, protocol: str, fault: TimesOut, query: str, with_chat_id: bool = False
) -> dict[str, Any]:
    """Bob subscribes with `query` (its `$chat` the room's id if `with_chat_id`) while `fault`
    stands in front of chat_service; Alice then sends "after the hiccup": Bob's first data."""

    def in_front(app: ASGIApp) -> ASGIApp:
        fault.app = app
        return fault

    async with serve_live(settings, chat_in_front=in_front) as live:
        alice, bob, chat_id = await live.gateway.alice_and_bob_in_a_room()
        async with graphql_socket(live.ws_url, protocol, token=bob.token) as ws:
            async with live.subscribing():
                op = await ws.subscribe(query, {"chat": chat_id} if with_chat_id else None)
            await live.gateway.send(alice, chat_id, "after the hiccup")
            return await next_data(ws, op)


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_chat_events_survive_one_timed_out_state_load(
    settings: Settings, protocol: str
) -> None:
    fault = TimesOut("/internal/chat-state", times=1)
    payload = await first_message_after_faults(settings, protocol, fault, CHAT_EVENTS)
    assert fault.failed == 1
    assert "errors" not in payload, payload
    event = payload["data"]["chatEvents"]
    assert event["message"]["text"] == "after the hiccup"
    assert event["chat"]["unreadCount"] == 1


MESSAGE_ADDED = "subscription($chat: ID!) { messageAdded(chatId: $chat) { text } }"


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_message_added_survives_timed_out_reads(settings: Settings, protocol: str) -> None:
    # The first read (the membership check) and the catch-up page after it: 504 each.
    fault = TimesOut("/messages", times=2)
    payload = await first_message_after_faults(
        settings, protocol, fault, MESSAGE_ADDED, with_chat_id=True
    )
    assert fault.failed == 2
    assert payload == {"data": {"messageAdded": {"text": "after the hiccup"}}}, payload
