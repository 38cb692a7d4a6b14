"""editMessage and deleteMessage over GraphQL: payloads, every typed refusal, live delivery."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.conftest import Gateway, LiveServer, User
from tests.gateway.test_http_api import ADD_MEMBER, LEAVE
from tests.gateway.test_subscriptions import PROTOCOLS, next_data
from tests.support.websocket import GraphQLSocket, data_type, graphql_socket

EDIT = """
mutation Edit($id: ID!, $text: String!) {
  editMessage(messageId: $id, text: $text) {
    __typename
    ... on MessagePayload { message { id text editedAt deletedAt } }
    ... on Error { error: message code }
    ... on ValidationError { field }
  }
}
"""
DELETE = """
mutation Delete($id: ID!) {
  deleteMessage(messageId: $id) {
    __typename
    ... on MessagePayload { message { id text editedAt deletedAt } }
    ... on Error { error: message code }
  }
}
"""
HISTORY = """
query History($id: ID!) {
  chat(id: $id) { messages(last: 10) { edges { node { text editedAt deletedAt } } } }
}
"""


async def edit(gw: Gateway, user: User | None, message_id: str, text: str) -> dict[str, Any]:
    variables = {"id": message_id, "text": text}
    token = None if user is None else user.token
    result: dict[str, Any] = (await gw.data(EDIT, variables, token))["editMessage"]
    return result


async def delete(gw: Gateway, user: User | None, message_id: str) -> dict[str, Any]:
    token = None if user is None else user.token
    result: dict[str, Any] = (await gw.data(DELETE, {"id": message_id}, token))["deleteMessage"]
    return result


async def history(gw: Gateway, user: User, chat_id: str) -> list[dict[str, Any]]:
    chat = (await gw.data(HISTORY, {"id": chat_id}, user.token))["chat"]
    return [edge["node"] for edge in chat["messages"]["edges"]]


async def test_edit_then_delete(gateway: Gateway) -> None:
    alice, bob, chat_id = await gateway.alice_and_bob_in_a_room()
    sent = await gateway.send(alice, chat_id, "helo")
    edited = await edit(gateway, alice, sent["id"], "hello")
    assert edited["__typename"] == "MessagePayload"
    assert edited["message"]["text"] == "hello"
    assert edited["message"]["editedAt"]
    assert (await history(gateway, bob, chat_id))[0]["text"] == "hello"
    deleted = await delete(gateway, alice, sent["id"])
    assert deleted["message"]["text"] == ""
    assert deleted["message"]["deletedAt"]
    (tombstone,) = await history(gateway, bob, chat_id)
    assert tombstone["text"] == ""
    assert tombstone["deletedAt"]
    assert tombstone["editedAt"]


@pytest.mark.parametrize("verb", ["edit", "delete"])
async def test_every_refusal_is_typed(gateway: Gateway, verb: str) -> None:
    alice = await gateway.register("Alice")
    bob = await gateway.register("Bob")
    eve = await gateway.register("Eve")
    chat_id = await gateway.create_chat(alice, "Room", bob)
    sent = await gateway.send(alice, chat_id, "mine")

    async def change(user: User | None, message_id: str) -> dict[str, Any]:
        if verb == "edit":
            return await edit(gateway, user, message_id, "changed")
        return await delete(gateway, user, message_id)

    assert (await change(bob, sent["id"]))["__typename"] == "NotTheAuthor"
    assert (await change(eve, sent["id"]))["__typename"] == "NotAMember"
    assert (await change(alice, "not-an-id"))["__typename"] == "NotFound"
    assert (await change(alice, chat_id))["__typename"] == "NotFound"  # a Chat id
    assert (await change(alice, "999999999"))["__typename"] == "NotFound"
    assert (await change(None, sent["id"]))["__typename"] == "Unauthenticated"
    await delete(gateway, alice, sent["id"])
    gone = await change(alice, sent["id"])
    assert gone["__typename"] == "AlreadyDeleted"
    assert gone["code"] == "already_deleted"


async def test_edit_is_limited_like_a_send(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    chat_id = await gateway.create_chat(alice, "Room")
    sent = await gateway.send(alice, chat_id, "short")
    for text in ("x" * 4001, "  "):
        refused = await edit(gateway, alice, sent["id"], text)
        assert refused["__typename"] == "ValidationError"
        assert refused["field"] == "text"
    assert (await history(gateway, alice, chat_id))[0]["text"] == "short"


CHAT_EVENTS = """subscription($after: ID) {
  chatEvents(after: $after) {
    __typename
    ... on MessageAdded { message { id text } }
    ... on MessageEdited { message { id text editedAt } chat { id } }
    ... on MessageDeleted { message { id text deletedAt } chat { id } }
  }
}"""
MESSAGE_ADDED = """subscription($chatId: ID!, $after: ID) {
  messageAdded(chatId: $chatId, after: $after) { id text editedAt deletedAt }
}"""


async def both(ws: GraphQLSocket, first: str, second: str) -> tuple[dict[str, Any], ...]:
    """The next payload of each of two operations, in whichever order they come."""
    found: dict[str, dict[str, Any]] = {}
    while len(found) < 2:
        message = await ws.next_payload()
        assert message["type"] == data_type(ws.protocol), message
        found[message["id"]] = message["payload"]
    return found[first], found[second]


async def member_event_and_line(
    ws: GraphQLSocket, events: str, added: str, typename: str
) -> tuple[dict[str, Any], ...]:
    """The `typename` payload of chatEvents and the next messageAdded payload. chatEvents also
    gets the system line's MessageAdded, before or after the other subscription's frame."""
    found: dict[str, dict[str, Any]] = {}
    while len(found) < 2:
        message = await ws.next_payload()
        assert message["type"] == data_type(ws.protocol), message
        payload = message["payload"]
        if message["id"] == events and payload["data"]["chatEvents"]["__typename"] != typename:
            continue
        found[message["id"]] = payload
    return found[events], found[added]


@PROTOCOLS
async def test_changes_arrive_live_in_both_subscriptions(live: LiveServer, protocol: str) -> None:
    gw = live.gateway
    alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
    sent = await gw.send(alice, chat_id, "helo")
    async with graphql_socket(live.ws_url, protocol, token=bob.token) as ws:
        async with live.subscribing(2):
            events = await ws.subscribe(CHAT_EVENTS, {})
            added = await ws.subscribe(MESSAGE_ADDED, {"chatId": chat_id})
        await edit(gw, alice, sent["id"], "hello")
        edited, again = await both(ws, events, added)
        await delete(gw, alice, sent["id"])
        deleted, tombstone = await both(ws, events, added)
    assert edited["data"]["chatEvents"]["__typename"] == "MessageEdited"
    assert edited["data"]["chatEvents"]["message"]["text"] == "hello"
    assert edited["data"]["chatEvents"]["chat"]["id"] == chat_id
    assert again["data"]["messageAdded"]["text"] == "hello"
    assert again["data"]["messageAdded"]["editedAt"]
    assert deleted["data"]["chatEvents"]["__typename"] == "MessageDeleted"
    assert deleted["data"]["chatEvents"]["message"] == {
        "id": sent["id"],
        "text": "",
        "deletedAt": tombstone["data"]["messageAdded"]["deletedAt"],
    }


async def test_catch_up_shows_messages_as_they_are_now(live: LiveServer) -> None:
    gw = live.gateway
    alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
    seen = await gw.send(alice, chat_id, "seen")
    missed = await gw.send(alice, chat_id, "typo")
    erased = await gw.send(alice, chat_id, "oops")
    await edit(gw, alice, missed["id"], "fixed")
    await delete(gw, alice, erased["id"])
    async with graphql_socket(live.ws_url, token=bob.token) as ws:
        op = await ws.subscribe(CHAT_EVENTS, {"after": seen["id"]})
        first, second = await next_data(ws, op), await next_data(ws, op)
    assert first["data"]["chatEvents"]["message"]["text"] == "fixed"
    assert second["data"]["chatEvents"]["message"] == {"id": erased["id"], "text": ""}


REPLY = """
mutation Reply($chatId: ID!, $text: String!, $replyTo: ID) {
  sendMessage(chatId: $chatId, text: $text, replyTo: $replyTo) {
    __typename
    ... on SendMessagePayload {
      message { id replyTo { messageId databaseId text deletedAt sender { nickname } } }
    }
    ... on Error { error: message code }
  }
}
"""


async def test_a_reply_shows_a_quote_and_refuses_a_message_elsewhere(gateway: Gateway) -> None:
    alice, bob, chat_id = await gateway.alice_and_bob_in_a_room()
    other_chat = await gateway.create_chat(alice, "Other")
    original = await gateway.send(alice, chat_id, "lunch?\nat noon")
    elsewhere = await gateway.send(alice, other_chat, "not here")

    async def reply(to: str) -> dict[str, Any]:
        variables = {"chatId": chat_id, "text": "yes", "replyTo": to}
        result: dict[str, Any] = (await gateway.data(REPLY, variables, bob.token))["sendMessage"]
        return result

    sent = await reply(original["id"])
    assert sent["message"]["replyTo"] == {
        "messageId": original["id"],
        "databaseId": original["databaseId"],
        "text": "lunch?",
        "deletedAt": None,
        "sender": {"nickname": "Alice"},
    }
    for bad in (elsewhere["id"], "999999999", "not-an-id"):
        refused = await reply(bad)
        assert refused["__typename"] == "NotFound", refused
    await delete(gateway, alice, original["id"])
    tombstone = (await reply(original["id"]))["message"]["replyTo"]
    assert tombstone["text"] == ""
    assert tombstone["deletedAt"]


REACT = """
mutation React($id: ID!, $emoji: String!) {
  toggleReaction(messageId: $id, emoji: $emoji) {
    __typename
    ... on MessagePayload {
      message { id reactions { emoji count reactedByMe users { nickname } } }
    }
    ... on Error { error: message code }
    ... on ValidationError { field }
  }
}
"""
REACTIONS_EVENTS = """subscription {
  chatEvents {
    __typename
    ... on ReactionsChanged {
      message { id reactions { emoji count reactedByMe users { nickname } } }
      chat { id }
    }
  }
}"""


async def react(gw: Gateway, user: User, message_id: str, emoji: str) -> dict[str, Any]:
    variables = {"id": message_id, "emoji": emoji}
    result: dict[str, Any] = (await gw.data(REACT, variables, user.token))["toggleReaction"]
    return result


async def test_reactions_toggle_and_every_refusal_is_typed(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    bob = await gateway.register("Bob")
    eve = await gateway.register("Eve")
    chat_id = await gateway.create_chat(alice, "Room", bob)
    sent = await gateway.send(alice, chat_id, "pizza?")
    await react(gateway, alice, sent["id"], "🍕")
    mine = await react(gateway, bob, sent["id"], "🍕")
    assert mine["message"]["reactions"] == [
        {
            "emoji": "🍕",
            "count": 2,
            "reactedByMe": True,
            "users": [{"nickname": "Alice"}, {"nickname": "Bob"}],
        }
    ]
    back = await react(gateway, bob, sent["id"], "🍕")
    assert back["message"]["reactions"][0]["count"] == 1
    assert back["message"]["reactions"][0]["reactedByMe"] is False
    bad = await react(gateway, bob, sent["id"], "lol")
    assert bad["__typename"] == "ValidationError"
    assert bad["field"] == "emoji"
    assert (await react(gateway, eve, sent["id"], "🍕"))["__typename"] == "NotAMember"
    assert (await react(gateway, bob, "nope", "🍕"))["__typename"] == "NotFound"
    await delete(gateway, alice, sent["id"])
    assert (await react(gateway, bob, sent["id"], "🍕"))["__typename"] == "AlreadyDeleted"


async def test_reactions_arrive_live_with_the_summary(live: LiveServer) -> None:
    gw = live.gateway
    alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
    sent = await gw.send(alice, chat_id, "pizza?")
    async with graphql_socket(live.ws_url, token=alice.token) as ws:
        async with live.subscribing():
            op = await ws.subscribe(REACTIONS_EVENTS, {})
        await react(gw, bob, sent["id"], "🍕")
        event = (await next_data(ws, op))["data"]["chatEvents"]
    assert event["__typename"] == "ReactionsChanged"
    assert event["chat"]["id"] == chat_id
    assert event["message"] == {
        "id": sent["id"],
        "reactions": [
            {"emoji": "🍕", "count": 1, "reactedByMe": False, "users": [{"nickname": "Bob"}]}
        ],
    }


LINES = """
query Lines($id: ID!) {
  chat(id: $id) { messages(last: 10) { edges { node { kind text sender { nickname } } } } }
}
"""
MEMBER_EVENTS = """subscription {
  chatEvents {
    __typename
    ... on MemberAdded { line { kind sender { nickname } } }
    ... on MemberLeft { line { kind sender { nickname } } }
  }
}"""
CHAT_MESSAGES_KINDS = """subscription($chatId: ID!) {
  messageAdded(chatId: $chatId) { kind text sender { nickname } }
}"""


async def test_system_lines_are_history_and_arrive_live(live: LiveServer) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    bob = await gw.register("Bob")
    carol = await gw.register("Carol")
    chat_id = await gw.create_chat(alice, "Room", bob)
    async with graphql_socket(live.ws_url, token=alice.token) as ws:
        async with live.subscribing(2):
            events = await ws.subscribe(MEMBER_EVENTS, {})
            added = await ws.subscribe(CHAT_MESSAGES_KINDS, {"chatId": chat_id})
        result = await gw.data(ADD_MEMBER, {"chatId": chat_id, "nickname": "Carol"}, alice.token)
        assert result["addMember"]["__typename"] == "AddMemberPayload"
        joined, line = await member_event_and_line(ws, events, added, "MemberAdded")
        await gw.data(LEAVE, {"chatId": chat_id}, carol.token)
        left, line_left = await member_event_and_line(ws, events, added, "MemberLeft")
    carol_line = {"kind": "JOINED", "sender": {"nickname": "Carol"}}
    assert joined["data"]["chatEvents"] == {"__typename": "MemberAdded", "line": carol_line}
    assert line["data"]["messageAdded"] == {**carol_line, "text": ""}
    assert left["data"]["chatEvents"]["line"] == {"kind": "LEFT", "sender": {"nickname": "Carol"}}
    assert line_left["data"]["messageAdded"]["kind"] == "LEFT"
    history = (await gw.data(LINES, {"id": chat_id}, bob.token))["chat"]["messages"]["edges"]
    assert [(edge["node"]["kind"], edge["node"]["sender"]["nickname"]) for edge in history] == [
        ("JOINED", "Carol"),
        ("LEFT", "Carol"),
    ]
