"""Typing, read receipts and presence through chatEvents(signals: true), on the memory broker.

Members of a shared chat see them live; nobody else does. Across gateways on Redis:
tests/gateway/test_live_signals_redis.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.gateway.conftest import Gateway, LiveServer, User
from tests.gateway.test_subscriptions import settle
from tests.support.websocket import GraphQLSocket, data_type, graphql_socket

SIGNALS = """subscription {
  chatEvents(signals: true) {
    __typename
    ... on Typing { chatId typing user { nickname } }
    ... on MessagesRead { chatId readUpTo user { nickname } }
    ... on PresenceChanged { online lastSeenAt user { nickname } }
    ... on MessageAdded { message { text } }
  }
}"""
SET_TYPING = """
mutation Typing($chatId: ID!, $typing: Boolean!) {
  setTyping(chatId: $chatId, typing: $typing) {
    __typename
    ... on Error { code }
    ... on RateLimited { retryAfter }
  }
}
"""
MARK_READ = """
mutation Read($chatId: ID!, $messageId: ID!) {
  markRead(chatId: $chatId, messageId: $messageId) { __typename }
}
"""
MEMBERS = """
query Members($id: ID!) {
  chat(id: $id) { members { user { nickname } online lastSeenAt readUpTo } }
}
"""


async def next_event(ws: GraphQLSocket, timeout: float = 10.0) -> dict[str, Any]:
    message = await ws.next_payload(timeout)
    assert message["type"] == data_type(ws.protocol), message
    event: dict[str, Any] = message["payload"]["data"]["chatEvents"]
    return event


async def event_of(ws: GraphQLSocket, typename: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next event of this type (others, such as presence of people connecting, skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            event = await next_event(ws, timeout)
            if event["__typename"] == typename:
                return event


async def nothing_of(ws: GraphQLSocket, typename: str, wait: float = 1.0) -> None:
    try:
        async with asyncio.timeout(wait):
            while True:
                event = await next_event(ws, wait)
                assert event["__typename"] != typename, event
    except TimeoutError:
        pass


async def members(gw: Gateway, user: User, chat_id: str) -> dict[str, dict[str, Any]]:
    chat = (await gw.data(MEMBERS, {"id": chat_id}, user.token))["chat"]
    return {member["user"]["nickname"]: member for member in chat["members"]}


async def test_typing_reaches_members_only(live: LiveServer) -> None:
    gw = live.gateway
    alice, bob, carol = [await gw.register(name) for name in ("Alice", "Bob", "Carol")]
    chat_id = await gw.create_chat(alice, "Room", bob)
    await gw.create_chat(carol, "Elsewhere", alice)  # Carol shares a chat with Alice, not this one
    async with (
        graphql_socket(live.ws_url, token=bob.token) as bob_ws,
        graphql_socket(live.ws_url, token=carol.token) as carol_ws,
        graphql_socket(live.ws_url, token=alice.token) as alice_ws,
    ):
        async with live.subscribing(3):
            for ws in (bob_ws, carol_ws, alice_ws):
                await ws.subscribe(SIGNALS)
        sent = await gw.data(SET_TYPING, {"chatId": chat_id, "typing": True}, alice.token)
        assert sent["setTyping"]["__typename"] == "SetTypingPayload"
        typing = await event_of(bob_ws, "Typing")
        assert typing == {
            "__typename": "Typing",
            "chatId": chat_id,
            "typing": True,
            "user": {"nickname": "Alice"},
        }
        await gw.data(SET_TYPING, {"chatId": chat_id, "typing": False}, alice.token)
        assert (await event_of(bob_ws, "Typing"))["typing"] is False
        await nothing_of(carol_ws, "Typing")
        await nothing_of(alice_ws, "Typing", wait=0.2)  # never to the typist
    refused = await gw.data(SET_TYPING, {"chatId": chat_id, "typing": True}, carol.token)
    assert refused["setTyping"]["__typename"] in ("NotFound", "NotAMember")


async def test_typing_is_rate_limited(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    chat_id = await gateway.create_chat(alice, "Room")
    answers = [
        (await gateway.data(SET_TYPING, {"chatId": chat_id, "typing": True}, alice.token))[
            "setTyping"
        ]
        for _ in range(61)
    ]
    assert {answer["__typename"] for answer in answers[:60]} == {"SetTypingPayload"}
    assert answers[60]["__typename"] == "RateLimited"
    assert answers[60]["retryAfter"] >= 1


async def test_read_receipts_are_live_and_in_members(live: LiveServer) -> None:
    gw = live.gateway
    alice, bob = [await gw.register(name) for name in ("Alice", "Bob")]
    chat_id = await gw.create_chat(alice, "Room", bob)
    message = await gw.send(alice, chat_id, "did you see this?")
    assert (await members(gw, alice, chat_id))["Bob"]["readUpTo"] == 0
    async with graphql_socket(live.ws_url, token=alice.token) as alice_ws:
        async with live.subscribing():
            await alice_ws.subscribe(SIGNALS)
        variables = {"chatId": chat_id, "messageId": message["id"]}
        await gw.data(MARK_READ, variables, bob.token)
        read = await event_of(alice_ws, "MessagesRead")
    assert read == {
        "__typename": "MessagesRead",
        "chatId": chat_id,
        "readUpTo": message["databaseId"],
        "user": {"nickname": "Bob"},
    }
    assert (await members(gw, alice, chat_id))["Bob"]["readUpTo"] == message["databaseId"]


async def test_read_receipts_go_to_the_reader_and_whose_messages_they_read(
    live: LiveServer,
) -> None:
    gw = live.gateway
    alice, bob, carol = [await gw.register(name) for name in ("Alice", "Bob", "Carol")]
    chat_id = await gw.create_chat(alice, "Room", bob, carol)
    # Bob reads past the "joined" lines first (a line's sender is told too), then waits out
    # the 2 s between writes of his marker.
    first = await gw.send(alice, chat_id, "first")
    await gw.data(MARK_READ, {"chatId": chat_id, "messageId": first["id"]}, bob.token)
    await asyncio.sleep(2.1)
    message = await gw.send(alice, chat_id, "and this?")
    async with (
        graphql_socket(live.ws_url, token=alice.token) as alice_ws,
        graphql_socket(live.ws_url, token=carol.token) as carol_ws,
        graphql_socket(live.ws_url, token=bob.token) as bob_other_device,
    ):
        async with live.subscribing(3):
            for ws in (alice_ws, carol_ws, bob_other_device):
                await ws.subscribe(SIGNALS)
        variables = {"chatId": chat_id, "messageId": message["id"]}
        await gw.data(MARK_READ, variables, bob.token)
        for ws in (alice_ws, bob_other_device):  # her message; his own marker
            read = await event_of(ws, "MessagesRead")
            assert (read["user"], read["readUpTo"]) == ({"nickname": "Bob"}, message["databaseId"])
        await nothing_of(carol_ws, "MessagesRead")  # nothing of hers was read
    assert (await members(gw, carol, chat_id))["Bob"]["readUpTo"] == message["databaseId"]


async def test_presence_is_live_with_last_seen_and_private(live: LiveServer) -> None:
    gw = live.gateway
    alice, bob, carol = [await gw.register(name) for name in ("Alice", "Bob", "Carol")]
    chat_id = await gw.create_chat(alice, "Room", bob)
    assert (await members(gw, alice, chat_id))["Bob"]["online"] is False
    async with (
        graphql_socket(live.ws_url, token=alice.token) as alice_ws,
        graphql_socket(live.ws_url, token=carol.token) as carol_ws,
    ):
        async with live.subscribing(2):
            await alice_ws.subscribe(SIGNALS)
            await carol_ws.subscribe(SIGNALS)
        async with graphql_socket(live.ws_url, token=bob.token):
            online = await event_of(alice_ws, "PresenceChanged")
            assert online["user"] == {"nickname": "Bob"}
            assert online["online"] is True
            assert online["lastSeenAt"] is None
            seen = (await members(gw, alice, chat_id))["Bob"]
            assert (seen["online"], seen["lastSeenAt"]) == (True, None)
            # A second tab, closed again: still online.
            async with graphql_socket(live.ws_url, token=bob.token):
                await settle()
        offline = await event_of(alice_ws, "PresenceChanged")  # after the grace of a few s
        assert offline["online"] is False
        assert offline["lastSeenAt"]
        await nothing_of(carol_ws, "PresenceChanged", wait=0.2)  # she shares no chat with Bob
    seen = (await members(gw, alice, chat_id))["Bob"]
    assert seen["online"] is False
    assert seen["lastSeenAt"] == offline["lastSeenAt"]
