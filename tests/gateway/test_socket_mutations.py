"""markRead over the client's open WebSocket (graphql-transport-ws), as the web app sends it
(web/src/apollo.js): the same answers and failures as over HTTP, and the reader's other tabs
learn the new marker live (Strawberry's legacy graphql-ws handler refuses mutations); the marks
a gateway's callers make together share its calls to chat_service (gateway/read_marks.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from gateway.ids import database_id
from gateway.presence import BATCH_SECONDS
from mychat.tokens import TokenCodec
from tests.gateway.conftest import Gateway, LiveServer
from tests.gateway.test_live_signals import SET_TYPING, SIGNALS, event_of, nothing_of
from tests.gateway.test_subscriptions import next_data
from tests.support.env import TEST_JWT_SECRET
from tests.support.websocket import GraphQLSocket, graphql_socket

MARK_READ = """
mutation MarkRead($chatId: ID!, $messageId: ID!) {
  markRead(chatId: $chatId, messageId: $messageId) {
    __typename
    ... on MarkReadPayload { chat { id unreadCount } }
    ... on Error { code }
  }
}
"""
READ_RECEIPTS = """subscription {
  chatEvents(signals: true) { __typename ... on MessagesRead { readUpTo user { nickname } } }
}"""


async def mark(ws: GraphQLSocket, chat_id: str, message_id: str) -> dict[str, Any]:
    """One markRead over the socket: its answer, then the operation's end."""
    op = await ws.subscribe(MARK_READ, {"chatId": chat_id, "messageId": message_id})
    payload = await next_data(ws, op)
    ended = await ws.next_payload()
    assert ended == {"id": op, "type": "complete"}
    assert "errors" not in payload, payload
    answer: dict[str, Any] = payload["data"]["markRead"]
    return answer


async def test_mark_read_over_the_socket(live: LiveServer) -> None:
    gw = live.gateway
    alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
    first = await gw.send(alice, chat_id, "one")
    second = await gw.send(alice, chat_id, "two")
    async with (
        graphql_socket(live.ws_url, token=bob.token) as other_tab,
        graphql_socket(live.ws_url, token=bob.token) as ws,
    ):
        async with live.subscribing():
            receipts = await other_tab.subscribe(READ_RECEIPTS)
        answer = await mark(ws, chat_id, first["id"])
        assert answer == {
            "__typename": "MarkReadPayload",
            "chat": {"id": chat_id, "unreadCount": 1},
        }
        read = (await next_data(other_tab, receipts))["data"]["chatEvents"]
        assert read["readUpTo"] == database_id(first["id"], "Message")
        assert read["user"] == {"nickname": "Bob"}
        answer = await mark(ws, chat_id, second["id"])
        assert answer["chat"]["unreadCount"] == 0


READS_AND_MESSAGES = """subscription {
  chatEvents(signals: true) {
    __typename
    ... on MessagesRead { readUpTo user { nickname } ownChat { unreadCount } }
    ... on MessageAdded { chat { unreadCount } }
  }
}"""


async def test_the_marking_socket_gets_no_echo_of_its_own_mark(live: LiveServer) -> None:
    """The socket that marked learns the count from its markRead answer: its stream sends no
    MessagesRead of that mark, yet moves on (the next message counts from the new marker).
    The reader's other tab gets the MessagesRead with its chat as the read left it (its badge
    drops at once); whose message was read gets the receipt without anyone's chat."""
    gw = live.gateway
    alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
    first = await gw.send(alice, chat_id, "one")
    await gw.send(alice, chat_id, "two")
    async with graphql_socket(live.ws_url, token=alice.token) as alice_ws:
        async with live.subscribing():
            await alice_ws.subscribe(READS_AND_MESSAGES)
        # Her arrival goes out in a presence batch: before Bob's sockets listen, so that the
        # socket that marks has nothing on it but the mark's answer.
        await asyncio.sleep(2 * BATCH_SECONDS)
        async with (
            graphql_socket(live.ws_url, token=bob.token) as other_tab,
            graphql_socket(live.ws_url, token=bob.token) as ws,
        ):
            async with live.subscribing(2):
                await other_tab.subscribe(READS_AND_MESSAGES)
                await ws.subscribe(READS_AND_MESSAGES)
            await marked_without_echo(alice_ws, other_tab, ws, chat_id, first["id"])
            await gw.send(alice, chat_id, "three")
            added = await event_of(ws, "MessageAdded")
            assert added["chat"]["unreadCount"] == 2  # "two" and "three": the marker moved here


async def marked_without_echo(
    alice_ws: GraphQLSocket, other_tab: GraphQLSocket, ws: GraphQLSocket, chat_id: str, first: str
) -> None:
    """Bob marks `first` (Alice's) read over `ws`: his other tab and Alice hear of it, `ws`
    does not."""
    assert (await mark(ws, chat_id, first))["chat"]["unreadCount"] == 1
    read = await event_of(other_tab, "MessagesRead")
    assert read["ownChat"] == {"unreadCount": 1}  # "two" is still unread
    receipt = await event_of(alice_ws, "MessagesRead")
    assert (receipt["user"], receipt["ownChat"]) == ({"nickname": "Bob"}, None)
    await nothing_of(ws, "MessagesRead")


async def test_failures_over_the_socket(live: LiveServer) -> None:
    gw = live.gateway
    alice, _bob, chat_id = await gw.alice_and_bob_in_a_room()
    carol = await gw.register("Carol")
    message = await gw.send(alice, chat_id, "one")
    unknown_chat = "Q2hhdDo5OTk5OTk="  # Chat:999999
    async with graphql_socket(live.ws_url, token=carol.token) as ws:
        assert (await mark(ws, chat_id, message["id"]))["code"] == "not_a_member"
        assert (await mark(ws, unknown_chat, message["id"]))["code"] == "not_found"
        op = await ws.subscribe(MARK_READ, {"chatId": chat_id, "messageId": None})
        assert (await next_data(ws, op))["errors"], "a missing id is a GraphQL error"


async def test_an_expired_token_marks_nothing(live: LiveServer) -> None:
    gw = live.gateway
    alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
    message = await gw.send(alice, chat_id, "one")
    bob_id = database_id(bob.id, "User")
    short = TokenCodec(TEST_JWT_SECRET, timedelta(seconds=2)).issue(
        user_id=bob_id, login="bob", nickname="Bob"
    )
    async with graphql_socket(live.ws_url, token=short) as ws:
        await asyncio.sleep(2.1)  # tokens carry whole seconds: expired by now
        assert (await mark(ws, chat_id, message["id"]))["code"] == "unauthenticated"
    listed = await gw.data("{ chats { edges { node { unreadCount } } } }", token=bob.token)
    assert listed["chats"]["edges"][0]["node"]["unreadCount"] == 1


async def test_typing_over_the_socket_that_streams_the_chat(live: LiveServer) -> None:
    gw = live.gateway
    alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
    async with (
        graphql_socket(live.ws_url, token=bob.token) as bob_ws,
        graphql_socket(live.ws_url, token=alice.token) as alice_ws,
    ):
        async with live.subscribing(2):
            await bob_ws.subscribe(SIGNALS)
            await alice_ws.subscribe(SIGNALS)  # her page's own stream, beside her mutation
        op = await alice_ws.subscribe(SET_TYPING, {"chatId": chat_id, "typing": True})
        async with asyncio.timeout(10):
            answer = await alice_ws.next_payload()
            while answer.get("id") != op:  # her stream's events (presence) may come first
                answer = await alice_ws.next_payload()
        assert answer["payload"]["data"]["setTyping"]["__typename"] == "SetTypingPayload"
        typing = await event_of(bob_ws, "Typing")
        assert (typing["typing"], typing["user"]) == (True, {"nickname": "Alice"})


async def test_marks_made_together_share_service_calls(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    readers = [await gateway.register(f"Reader{n}") for n in range(6)]
    outsider = await gateway.register("Outsider")
    chat_id = await gateway.create_chat(alice, "Busy", *readers)
    message = await gateway.send(alice, chat_id, "read me")
    marks = [
        gateway.post(MARK_READ, {"chatId": chat_id, "messageId": message["id"]}, person.token)
        for person in [*readers, outsider] * 5
    ]
    before = gateway.chat_calls["/internal/read-markers"]
    answers = [body["data"]["markRead"] for body in await asyncio.gather(*marks)]
    calls = gateway.chat_calls["/internal/read-markers"] - before
    # Each answered as its own call would be: the outsider is no member, the readers read all.
    assert [answer.get("code") for answer in answers] == ([None] * 6 + ["not_a_member"]) * 5
    assert all(answer["chat"]["unreadCount"] == 0 for answer in answers if "chat" in answer)
    assert 1 <= calls <= 5, calls  # 35 marks; the first goes alone, the rest wait together
