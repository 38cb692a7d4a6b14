"""Subscriptions over a real WebSocket (uvicorn on a free port), both protocols."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
import websockets

from mychat.settings import Settings
from mychat.tokens import TokenCodec
from tests.gateway.conftest import LiveServer, serve_live
from tests.gateway.test_http_api import ADD_MEMBER, LEAVE, typename
from tests.support.env import TEST_JWT_SECRET
from tests.support.websocket import (
    LEGACY_WS,
    TRANSPORT_WS,
    GraphQLSocket,
    data_type,
    graphql_socket,
)

PROTOCOLS = pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
MESSAGE_ADDED = """subscription($chatId: ID!, $after: ID) {
  messageAdded(chatId: $chatId, after: $after) { id databaseId text sender { nickname } }
}"""
CHAT_EVENTS = """subscription($after: ID) {
  chatEvents(after: $after) {
    __typename
    ... on MessageAdded { message { text } chat { id name } }
    ... on MemberAdded { chat { id } member { user { nickname } role } }
    ... on MemberLeft { chat { id } user { nickname } }
    ... on AddedToChat { chat { id name myRole } }
    ... on RemovedFromChat { chatId }
  }
}"""


async def settle() -> None:
    """Give the server a moment to subscribe to the broker (there is no ack for that)."""
    await asyncio.sleep(0.2)


async def next_data(ws: GraphQLSocket, op_id: str) -> dict[str, Any]:
    message = await ws.next_payload()
    assert message["type"] == data_type(ws.protocol), message
    assert message["id"] == op_id
    payload: dict[str, Any] = message["payload"]
    return payload


@PROTOCOLS
async def test_message_from_a_reaches_b(live: LiveServer, protocol: str) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    bob = await gw.register("Bob")
    chat_id = await gw.create_chat(alice, "Room", bob)
    async with graphql_socket(live.ws_url, protocol, token=bob.token) as ws:
        async with live.subscribing():
            op = await ws.subscribe(MESSAGE_ADDED, {"chatId": chat_id})
        await gw.send(alice, chat_id, "hi bob")
        payload = await next_data(ws, op)
        assert payload["data"]["messageAdded"]["text"] == "hi bob"
        assert payload["data"]["messageAdded"]["sender"] == {"nickname": "Alice"}


@PROTOCOLS
async def test_non_member_is_refused(live: LiveServer, protocol: str) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    eve = await gw.register("Eve")
    chat_id = await gw.create_chat(alice, "Room")
    async with graphql_socket(live.ws_url, protocol, token=eve.token) as ws:
        op = await ws.subscribe(MESSAGE_ADDED, {"chatId": chat_id})
        message = await ws.next_payload()
        assert message["id"] == op
        assert message["type"] == "error", message
        errors = message["payload"] if protocol == TRANSPORT_WS else [message["payload"]]
        assert "not a member" in errors[0]["message"]
        # Unknown and malformed chat ids are refused the same way.
        op = await ws.subscribe(MESSAGE_ADDED, {"chatId": "bogus"})
        message = await ws.next_payload()
        assert message["type"] == "error", message


@PROTOCOLS
@pytest.mark.parametrize("token", ["not-a-token", None, "expired"])
async def test_bad_or_missing_token_closes_4403(
    live: LiveServer, protocol: str, token: str | None
) -> None:
    if token == "expired":
        token = TokenCodec(TEST_JWT_SECRET, timedelta(seconds=-5)).issue(
            user_id=1, login="a", nickname="A"
        )
    async with graphql_socket(live.ws_url, protocol, init=False) as ws:
        await ws.send(
            {
                "type": "connection_init",
                "payload": {"authorization": f"Bearer {token}"} if token else {},
            }
        )
        assert await ws.wait_closed() == 4403


async def test_token_key_in_payload_is_accepted(live: LiveServer) -> None:
    bob = await live.gateway.register("Bob")
    async with graphql_socket(live.ws_url, init=False) as ws:
        ack = await ws.init({"token": bob.token})
        assert ack["type"] == "connection_ack"


@PROTOCOLS
async def test_leaving_ends_the_subscription(live: LiveServer, protocol: str) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    bob = await gw.register("Bob")
    chat_id = await gw.create_chat(alice, "Room", bob)
    async with graphql_socket(live.ws_url, protocol, token=bob.token) as ws:
        async with live.subscribing():
            op = await ws.subscribe(MESSAGE_ADDED, {"chatId": chat_id})
        left = await typename(gw, LEAVE, {"chatId": chat_id}, bob.token)
        assert left["__typename"] == "LeaveChatPayload"
        payload = await next_data(ws, op)
        assert payload["data"] is None
        assert payload["errors"][0]["extensions"]["code"] == "NOT_A_MEMBER"
        assert "no longer a member" in payload["errors"][0]["message"]
        done = await ws.next_payload()
        assert done == {"id": op, "type": "complete"}


async def test_catch_up_while_200_messages_are_sent(live: LiveServer) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    bob = await gw.register("Bob")
    chat_id = await gw.create_chat(alice, "Room", bob)
    before = [await gw.send(alice, chat_id, f"old {i}") for i in range(3)]
    cursor = before[0]["id"]  # Bob saw only the first message before reconnecting
    total = 200
    sent: list[dict[str, Any]] = []

    async def send_all() -> None:
        for index in range(total):
            sent.append(await gw.send(alice, chat_id, f"new {index}"))

    sender = asyncio.create_task(send_all())
    await asyncio.sleep(0.05)  # the reconnect lands in the middle of the burst
    received: list[int] = []
    async with graphql_socket(live.ws_url, token=bob.token) as ws:
        op = await ws.subscribe(MESSAGE_ADDED, {"chatId": chat_id, "after": cursor})
        expected_count = len(before) - 1 + total
        while len(received) < expected_count:
            payload = await next_data(ws, op)
            received.append(payload["data"]["messageAdded"]["databaseId"])
        await sender
        # Nothing more arrives: no duplicate after the last one.
        with pytest.raises(TimeoutError):
            await ws.next_payload(timeout=0.3)
    expected = [m["databaseId"] for m in before[1:]] + [m["databaseId"] for m in sent]
    assert received == expected


async def test_chat_events_for_all_my_chats(live: LiveServer) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    bob = await gw.register("Bob")
    carol = await gw.register("Carol")
    async with graphql_socket(live.ws_url, token=bob.token) as ws:
        async with live.subscribing():
            op = await ws.subscribe(CHAT_EVENTS)

        async def event() -> dict[str, Any]:
            data: dict[str, Any] = (await next_data(ws, op))["data"]["chatEvents"]
            return data

        chat_id = await gw.create_chat(alice, "Room", bob)
        added = await event()
        assert added == {
            "__typename": "AddedToChat",
            "chat": {"id": chat_id, "name": "Room", "myRole": "MEMBER"},
        }
        await gw.send(alice, chat_id, "welcome")
        message = await event()
        assert message["__typename"] == "MessageAdded"
        assert message["message"]["text"] == "welcome"
        assert message["chat"]["name"] == "Room"
        await typename(gw, ADD_MEMBER, {"chatId": chat_id, "nickname": "Carol"}, alice.token)
        member = await event()
        assert member["__typename"] == "MemberAdded"
        assert member["member"] == {"user": {"nickname": "Carol"}, "role": "MEMBER"}
        await typename(gw, LEAVE, {"chatId": chat_id}, carol.token)
        gone = await event()
        assert gone == {
            "__typename": "MemberLeft",
            "chat": {"id": chat_id},
            "user": {"nickname": "Carol"},
        }
        # A chat Bob is not in stays silent.
        other = await gw.create_chat(alice, "Private")
        await gw.send(alice, other, "secret")
        await typename(gw, LEAVE, {"chatId": chat_id}, bob.token)
        removed = await event()
        assert removed == {"__typename": "RemovedFromChat", "chatId": chat_id}
        await gw.send(alice, chat_id, "after bob left")
        with pytest.raises(TimeoutError):
            await ws.next_payload(timeout=0.3)


async def test_chat_events_catch_up_after_cursor(live: LiveServer) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    bob = await gw.register("Bob")
    first = await gw.create_chat(alice, "One", bob)
    second = await gw.create_chat(alice, "Two", bob)
    seen = await gw.send(alice, first, "seen")
    missed = [await gw.send(alice, first, "m1"), await gw.send(alice, second, "m2")]
    async with graphql_socket(live.ws_url, token=bob.token) as ws:
        op = await ws.subscribe(CHAT_EVENTS, {"after": seen["id"]})
        texts = [(await next_data(ws, op))["data"]["chatEvents"]["message"]["text"] for _ in missed]
        assert texts == ["m1", "m2"]
        await gw.send(alice, second, "live")
        live_event = (await next_data(ws, op))["data"]["chatEvents"]
        assert live_event["message"]["text"] == "live"


async def test_oversized_frame_closes_and_server_stays_up(live: LiveServer) -> None:
    bob = await live.gateway.register("Bob")
    async with graphql_socket(live.ws_url, token=bob.token) as ws:
        await ws.send(
            {"id": "1", "type": "subscribe", "payload": {"query": "{ me { id } }" + " " * 70_000}}
        )
        assert await ws.wait_closed() == 1009
    async with graphql_socket(live.ws_url, token=bob.token) as ws:
        op = await ws.subscribe("{ me { nickname } }")
        assert (await next_data(ws, op))["data"] == {"me": {"nickname": "Bob"}}


async def test_gateway_enforces_64_kib_itself(settings: Settings) -> None:
    """Behind a server that allows bigger frames, the gateway still refuses them."""
    async with serve_live(settings, ws_max_size=1024 * 1024) as server:
        bob = await server.gateway.register("Bob")
        async with graphql_socket(server.ws_url, token=bob.token) as ws:
            query = "{ me { id } }" + " " * 70_000
            await ws.send({"id": "1", "type": "subscribe", "payload": {"query": query}})
            assert await ws.wait_closed() == 1009
        async with graphql_socket(server.ws_url, token=bob.token) as ws:
            op = await ws.subscribe("{ me { nickname } }" + " " * 60_000)
            assert (await next_data(ws, op))["data"] == {"me": {"nickname": "Bob"}}


@PROTOCOLS
async def test_limits_apply_over_websocket(live: LiveServer, protocol: str) -> None:
    bob = await live.gateway.register("Bob")
    async with graphql_socket(live.ws_url, protocol, token=bob.token) as ws:
        aliases = " ".join(f"a{i}: __typename" for i in range(31))
        await ws.subscribe("subscription { chatEvents { " + aliases + " } }")
        message = await ws.next_payload()
        assert message["type"] == "error", message
        assert "aliases" in str(message["payload"])
        if protocol == LEGACY_WS:  # it only runs subscriptions
            await ws.subscribe("{ me { id } }")
            refused = await ws.next_payload()
            assert "Internal" not in str(refused), refused
            return
        op = await ws.subscribe("{ me { nickname } }")
        assert (await next_data(ws, op))["data"] == {"me": {"nickname": "Bob"}}


async def test_subscriptions_per_connection_are_capped(live: LiveServer) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    chat_id = await gw.create_chat(alice, "Room")
    async with graphql_socket(live.ws_url, token=alice.token) as ws:
        for _ in range(20):
            await ws.subscribe(MESSAGE_ADDED, {"chatId": chat_id})
        op = await ws.subscribe(MESSAGE_ADDED, {"chatId": chat_id})
        message = await ws.next_payload()
        assert message == {
            "id": op,
            "type": "error",
            "payload": [{"message": "Subscription limit reached"}],
        }


async def test_origin_allowlist(live: LiveServer) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with graphql_socket(live.ws_url, origin="https://evil.example", init=False):
            pass
    assert refused.value.response.status_code == 403
    for origin in ("http://localhost:5173", f"http://127.0.0.1:{live.port}"):
        async with graphql_socket(live.ws_url, origin=origin, init=False) as ws:
            await ws.send({"type": "ping"})
            assert (await ws.receive())["type"] == "pong"


async def test_connection_init_timeout(live: LiveServer) -> None:
    async def silent(protocol: str) -> int | None:
        async with graphql_socket(live.ws_url, protocol, init=False) as ws:
            return await ws.wait_closed(timeout=15)

    codes = await asyncio.gather(silent(TRANSPORT_WS), silent(LEGACY_WS))
    assert list(codes) == [4408, 4408]


async def test_expired_token_ends_subscriptions(live: LiveServer) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    chat_id = await gw.create_chat(alice, "Room")
    short = TokenCodec(TEST_JWT_SECRET, timedelta(seconds=2)).issue(
        user_id=1, login="alice", nickname="Alice"
    )
    async with graphql_socket(live.ws_url, token=short) as ws:
        op = await ws.subscribe(MESSAGE_ADDED, {"chatId": chat_id})
        payload = await next_data(ws, op)
        assert payload["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert await ws.next_payload() == {"id": op, "type": "complete"}


async def test_each_websocket_operation_reads_fresh_data(live: LiveServer) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    await gw.register("Bob")
    chat_id = await gw.create_chat(alice, "Room")
    query = "query($id: ID!) { chat(id: $id) { members { user { nickname } } } }"
    async with graphql_socket(live.ws_url, token=alice.token) as ws:
        op = await ws.subscribe(query, {"id": chat_id})
        assert len((await next_data(ws, op))["data"]["chat"]["members"]) == 1
        await ws.next_payload()  # complete
        await typename(gw, ADD_MEMBER, {"chatId": chat_id, "nickname": "Bob"}, alice.token)
        op = await ws.subscribe(query, {"id": chat_id})
        assert len((await next_data(ws, op))["data"]["chat"]["members"]) == 2


async def test_opening_a_message_stream_costs_two_service_calls(live: LiveServer) -> None:
    """One call refuses non-members early (and finds the newest id), one catches up once the
    stream listens to the broker; nothing else per subscription."""
    gw = live.gateway
    alice = await gw.register("Alice")
    bob = await gw.register("Bob")
    chat_id = await gw.create_chat(alice, "Room", bob)
    await gw.send(alice, chat_id, "before")
    async with graphql_socket(live.ws_url, TRANSPORT_WS, token=bob.token) as ws:
        gw.chat_calls.clear()
        gw.auth_calls.clear()
        async with live.subscribing():
            op = await ws.subscribe(MESSAGE_ADDED, {"chatId": chat_id})
        # The stream listens before it catches up: its catch-up call may still be on its way.
        async with asyncio.timeout(5):
            while sum(gw.chat_calls.values()) < 2:
                await asyncio.sleep(0.005)
        assert sum(gw.chat_calls.values()) == 2, gw.chat_calls
        assert not gw.auth_calls
        await gw.send(alice, chat_id, "live")
        assert (await next_data(ws, op))["data"]["messageAdded"]["text"] == "live"
