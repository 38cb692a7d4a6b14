"""Every query and mutation through HTTP: success and each typed error."""

from __future__ import annotations

import base64
import logging
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gateway.app import create_app as create_gateway_app
from gateway.schema import UNAVAILABLE_MESSAGE
from mychat.settings import Settings
from mychat.tokens import TokenCodec, token_codec
from tests.gateway.conftest import (
    GRAPHQL,
    REGISTER,
    SEND,
    Gateway,
    User,
    composed,
    service_settings,
)
from tests.support.env import TEST_JWT_SECRET
from tests.support.people import PASSWORD
from tests.support.ports import free_port

LOGIN = """
mutation Login($login: String!, $password: String!) {
  login(login: $login, password: $password) {
    __typename
    ... on AuthPayload { token user { nickname } }
    ... on Error { message code }
    ... on RateLimited { retryAfter }
  }
}
"""
ADD_MEMBER = """
mutation Add($chatId: ID!, $nickname: String!) {
  addMember(chatId: $chatId, nickname: $nickname) {
    __typename
    ... on AddMemberPayload {
      chat { name members { user { nickname } } }
      member { user { nickname } role }
    }
    ... on Error { message code }
    ... on ValidationError { field }
  }
}
"""
LEAVE = """
mutation Leave($chatId: ID!) {
  leaveChat(chatId: $chatId) {
    __typename ... on LeaveChatPayload { chatId } ... on Error { message code }
  }
}
"""
MARK_READ = """
mutation Read($chatId: ID!, $messageId: ID!) {
  markRead(chatId: $chatId, messageId: $messageId) {
    __typename
    ... on MarkReadPayload { chat { unreadCount } }
    ... on Error { message code }
    ... on ValidationError { field }
  }
}
"""
CREATE = """
mutation Create($name: String!, $members: [String!]) {
  createChat(name: $name, memberNicknames: $members) {
    __typename
    ... on CreateChatPayload { chat { name myRole } }
    ... on Error { message code }
    ... on ValidationError { field }
  }
}
"""
SEND_ERRORS = """
mutation Send($chatId: ID!, $text: String!, $clientId: String) {
  sendMessage(chatId: $chatId, text: $text, clientId: $clientId) {
    __typename
    ... on SendMessagePayload { message { databaseId text clientId } }
    ... on Error { error: message code }
    ... on ValidationError { field }
    ... on RateLimited { retryAfter }
  }
}
"""
HISTORY = """
query History($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  chat(id: $id) {
    messages(first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { id text } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""


def global_id(type_name: str, database_id: int) -> str:
    return base64.b64encode(f"{type_name}:{database_id}".encode()).decode()


async def typename(gw: Gateway, query: str, variables: dict[str, Any], token: str | None) -> Any:
    data = await gw.data(query, variables, token)
    return next(iter(data.values()))


# --- register / login ---------------------------------------------------------------------


async def test_register_answers_token_user_and_expiry(gateway: Gateway) -> None:
    variables = {"login": "alice", "password": PASSWORD, "nickname": "Alice"}
    result = await typename(gateway, REGISTER, variables, None)
    assert result["__typename"] == "AuthPayload"
    assert result["user"]["login"] == "alice"
    assert result["user"]["nickname"] == "Alice"
    assert result["expiresAt"].endswith("+00:00")
    gateway.auth_calls.clear()
    me = await gateway.data("{ me { id nickname login } }", token=result["token"])
    assert me["me"] == result["user"]
    assert sum(gateway.auth_calls.values()) == 0  # answered from the verified token


async def test_register_errors(gateway: Gateway) -> None:
    await gateway.register("Alice")
    taken = await typename(
        gateway, REGISTER, {"login": "alice", "password": PASSWORD, "nickname": "Other"}, None
    )
    assert taken["__typename"] == "Conflict"
    assert taken["field"] == "login"
    empty = await typename(
        gateway, REGISTER, {"login": "", "password": PASSWORD, "nickname": "X"}, None
    )
    assert empty["__typename"] == "ValidationError"
    assert empty["field"] == "login"
    assert empty["code"] == "validation_error"
    too_long = await typename(
        gateway, REGISTER, {"login": "bob", "password": PASSWORD, "nickname": "N" * 300}, None
    )
    assert too_long["__typename"] == "ValidationError"
    assert too_long["field"] == "nickname"


async def test_wrong_types_and_missing_arguments_are_clear_errors(gateway: Gateway) -> None:
    wrong = await gateway.post(REGISTER, {"login": 5, "password": None, "nickname": "x"})
    assert wrong["data"] is None
    messages = " ".join(error["message"] for error in wrong["errors"])
    assert "$login" in messages
    assert "$password" in messages
    missing = await gateway.post('mutation { register(login: "a") { __typename } }')
    assert missing["data"] is None
    assert "register(password:)' of type 'String!' is required" in missing["errors"][0]["message"]
    bad_id = await gateway.post("{ chat(id: 5.5) { id } }")
    assert bad_id["data"] is None
    assert "ID cannot represent" in bad_id["errors"][0]["message"]


async def test_login_and_wrong_password(gateway: Gateway) -> None:
    await gateway.register("Alice")
    ok = await typename(gateway, LOGIN, {"login": "alice", "password": PASSWORD}, None)
    assert ok["__typename"] == "AuthPayload"
    assert ok["user"]["nickname"] == "Alice"
    wrong = await typename(gateway, LOGIN, {"login": "alice", "password": "nope-nope"}, None)
    assert wrong["__typename"] == "Unauthenticated"
    assert wrong["code"] == "invalid_credentials"
    unknown = await typename(gateway, LOGIN, {"login": "nobody", "password": PASSWORD}, None)
    assert unknown["__typename"] == "Unauthenticated"


async def test_login_rate_limited(settings: Settings) -> None:
    limited = service_settings(settings).model_copy(update={"login_rate_per_minute": 1})
    async with (
        composed(limited) as (app, _auth, _chat),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
    ):
        results = []
        for _ in range(3):
            response = await client.post(
                GRAPHQL, json={"query": LOGIN, "variables": {"login": "x", "password": "y"}}
            )
            results.append(response.json()["data"]["login"])
    limited_results = [r for r in results if r["__typename"] == "RateLimited"]
    assert limited_results, results
    assert limited_results[0]["retryAfter"] > 0
    assert limited_results[0]["code"] == "rate_limited"


async def test_login_limits_count_per_caller_not_per_gateway(settings: Settings) -> None:
    # auth_service sees the caller's address that the gateway forwards: one caller's burst
    # must not lock everybody else out.
    limited = service_settings(settings).model_copy(update={"login_rate_per_minute": 2})

    async def login_from(app: Starlette, address: str, login: str) -> str:
        transport = httpx.ASGITransport(app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(
                GRAPHQL, json={"query": LOGIN, "variables": {"login": login, "password": "y"}}
            )
        typename: str = response.json()["data"]["login"]["__typename"]
        return typename

    async with composed(limited) as (app, _auth, _chat):
        burst = [await login_from(app, "198.51.100.7", f"user{i}") for i in range(3)]
        other_caller = await login_from(app, "198.51.100.8", "someone")
    assert burst == ["Unauthenticated", "Unauthenticated", "RateLimited"]
    assert other_caller == "Unauthenticated"


# --- queries ------------------------------------------------------------------------------


async def test_me_is_null_without_or_with_a_bad_or_expired_token(gateway: Gateway) -> None:
    assert (await gateway.data("{ me { id } }"))["me"] is None
    assert (await gateway.data("{ me { id } }", token="garbage"))["me"] is None
    expired = TokenCodec(TEST_JWT_SECRET, timedelta(seconds=-10)).issue(
        user_id=1, login="a", nickname="A"
    )
    assert (await gateway.data("{ me { id } }", token=expired))["me"] is None
    forged = TokenCodec("another-secret-" + "y" * 40, timedelta(hours=1)).issue(
        user_id=1, login="a", nickname="A"
    )
    assert (await gateway.data("{ me { id } }", token=forged))["me"] is None


async def test_chats_without_token_is_an_unauthenticated_error(gateway: Gateway) -> None:
    body = await gateway.post("{ chats { edges { node { id } } } }")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_chats_newest_activity_first_with_pages(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    first = await gateway.create_chat(alice, "First")
    second = await gateway.create_chat(alice, "Second")
    third = await gateway.create_chat(alice, "Third")
    await gateway.send(alice, first, "bump")  # First becomes the most recently active
    query = """query($first: Int, $after: String) { chats(first: $first, after: $after) {
      edges { cursor node { id name lastActivityAt } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
    page1 = (await gateway.data(query, {"first": 2}, alice.token))["chats"]
    assert [e["node"]["id"] for e in page1["edges"]] == [first, third]
    assert page1["pageInfo"]["hasNextPage"] is True
    assert page1["pageInfo"]["hasPreviousPage"] is False
    assert page1["pageInfo"]["endCursor"] == page1["edges"][-1]["cursor"]
    after = page1["pageInfo"]["endCursor"]
    page2 = (await gateway.data(query, {"first": 2, "after": after}, alice.token))["chats"]
    assert [e["node"]["id"] for e in page2["edges"]] == [second]
    assert page2["pageInfo"]["hasNextPage"] is False
    assert page2["pageInfo"]["hasPreviousPage"] is True
    # Any edge's cursor resumes after that edge.
    from_first = page1["edges"][0]["cursor"]
    page3 = (await gateway.data(query, {"first": 1, "after": from_first}, alice.token))["chats"]
    assert [e["node"]["id"] for e in page3["edges"]] == [third]


async def test_chats_page_size_and_cursor_errors(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    for first in (0, 101, -1):
        body = await gateway.post(
            "query($f: Int) { chats(first: $f) { edges { cursor } } }", {"f": first}, alice.token
        )
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    body = await gateway.post(
        '{ chats(after: "not a cursor") { edges { cursor } } }', token=alice.token
    )
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR", body


async def test_chat_by_id_and_node(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    bob = await gateway.register("Bob")
    eve = await gateway.register("Eve")
    chat_id = await gateway.create_chat(alice, "Room", bob)
    query = (
        "query($id: ID!) { chat(id: $id) { id name myRole members { user { id nickname } role } } }"
    )
    chat = (await gateway.data(query, {"id": chat_id}, bob.token))["chat"]
    assert chat["name"] == "Room"
    assert chat["myRole"] == "MEMBER"
    assert {(m["user"]["nickname"], m["role"]) for m in chat["members"]} == {
        ("Alice", "OWNER"),
        ("Bob", "MEMBER"),
    }
    # Someone else's chat, unknown ids, malformed ids and other types all read as null.
    for unknown in (chat_id, global_id("Chat", 999), "%%%", global_id("User", 1), "", "Q" * 5000):
        assert (await gateway.data(query, {"id": unknown}, eve.token))["chat"] is None
    assert (await gateway.data(query, {"id": chat_id}))["chat"] is None
    node_query = """query($id: ID!) {
      node(id: $id) { id __typename ... on User { nickname } ... on Chat { name } } }"""
    node = (await gateway.data(node_query, {"id": alice.id}, bob.token))["node"]
    assert node == {"id": alice.id, "__typename": "User", "nickname": "Alice"}
    node = (await gateway.data(node_query, {"id": chat_id}, bob.token))["node"]
    assert node["__typename"] == "Chat"
    assert (await gateway.data(node_query, {"id": chat_id}, eve.token))["node"] is None
    assert (await gateway.data(node_query, {"id": "bad"}, eve.token))["node"] is None
    assert (await gateway.data(node_query, {"id": global_id("User", 999)}, eve.token))[
        "node"
    ] is None


async def test_message_history_pages(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    chat_id = await gateway.create_chat(alice, "Room")
    sent = [await gateway.send(alice, chat_id, f"m{i}") for i in range(7)]
    texts = [m["text"] for m in sent]

    async def page(**variables: Any) -> dict[str, Any]:
        data = await gateway.data(HISTORY, {"id": chat_id, **variables}, alice.token)
        result: dict[str, Any] = data["chat"]["messages"]
        return result

    default = await page()
    assert [e["node"]["text"] for e in default["edges"]] == texts
    assert default["edges"][0]["cursor"] == default["edges"][0]["node"]["id"]
    last3 = await page(last=3)
    assert [e["node"]["text"] for e in last3["edges"]] == texts[-3:]
    assert last3["pageInfo"]["hasPreviousPage"] is True
    before = await page(last=3, before=last3["pageInfo"]["startCursor"])
    assert [e["node"]["text"] for e in before["edges"]] == texts[1:4]
    assert before["pageInfo"]["hasNextPage"] is True
    first2 = await page(first=2)
    assert [e["node"]["text"] for e in first2["edges"]] == texts[:2]
    assert first2["pageInfo"]["hasNextPage"] is True
    after = await page(first=10, after=first2["pageInfo"]["endCursor"])
    assert [e["node"]["text"] for e in after["edges"]] == texts[2:]
    assert after["pageInfo"]["hasNextPage"] is False
    assert after["pageInfo"]["hasPreviousPage"] is True
    by_database_id = await page(first=1, after=str(sent[0]["databaseId"]))
    assert [e["node"]["text"] for e in by_database_id["edges"]] == texts[1:2]


async def test_message_history_limits(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    chat_id = await gateway.create_chat(alice, "Room")
    for variables in ({"last": 201}, {"first": 0}, {"first": 1, "last": 1}, {"after": "nope"}):
        body = await gateway.post(HISTORY, {"id": chat_id, **variables}, alice.token)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (variables, body)
    body = await gateway.post(HISTORY, {"id": chat_id, "last": 200}, alice.token)
    assert "errors" not in body


async def test_chat_with_its_page_is_one_service_call(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    bob = await gateway.register("Bob")
    eve = await gateway.register("Eve")
    chat_id = await gateway.create_chat(alice, "Room", bob)
    sent = [await gateway.send(bob, chat_id, f"m{i}") for i in range(3)]
    query = """query($id: ID!) { chat(id: $id) { name unreadCount
      messages(last: 2) { edges { node { text } } pageInfo { hasPreviousPage } } } }"""
    gateway.chat_calls.clear()
    chat = (await gateway.data(query, {"id": chat_id}, alice.token))["chat"]
    assert chat["name"] == "Room"
    assert chat["unreadCount"] == 3
    assert [e["node"]["text"] for e in chat["messages"]["edges"]] == ["m1", "m2"]
    assert chat["messages"]["pageInfo"]["hasPreviousPage"] is True
    assert gateway.chat_calls == {f"/internal/chats/{_db_id(chat_id)}/messages": 1}
    # Foreign, unknown and non-chat ids read as null, as without the page.
    for unknown in (chat_id, global_id("Chat", 999), global_id("User", 1), "%%%"):
        assert (await gateway.data(query, {"id": unknown}, eve.token))["chat"] is None
    # Two pages of one chat (aliases): each field asks for its own, answers unchanged.
    two = """query($id: ID!) { chat(id: $id) { name
      a: messages(last: 1) { edges { node { text } } }
      b: messages(first: 1) { edges { node { text } } } } }"""
    both = (await gateway.data(two, {"id": chat_id}, alice.token))["chat"]
    assert [e["node"]["text"] for e in both["a"]["edges"]] == [sent[-1]["text"]]
    assert [e["node"]["text"] for e in both["b"]["edges"]] == [sent[0]["text"]]
    # The page found through an aliased field, fragments and a variable: still one call.
    fragmented = """query($id: ID!, $n: Int) { mine: chat(id: $id) { ...Page } }
      fragment Page on Chat { ... on Chat { messages(last: $n) { edges { node { text } } } } }"""
    gateway.chat_calls.clear()
    mine = (await gateway.data(fragmented, {"id": chat_id, "n": 1}, alice.token))["mine"]
    assert [e["node"]["text"] for e in mine["messages"]["edges"]] == [sent[-1]["text"]]
    assert gateway.chat_calls == {f"/internal/chats/{_db_id(chat_id)}/messages": 1}
    # Bad page arguments are still the field's error, with the chat itself answered.
    body = await gateway.post(HISTORY, {"id": chat_id, "last": 201}, alice.token)
    assert body["data"]["chat"] == {"messages": None} or body["data"]["chat"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def _db_id(chat_global_id: str) -> int:
    return int(base64.b64decode(chat_global_id).decode().split(":")[1])


async def test_members_and_last_messages_have_no_n_plus_one(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    friends = [await gateway.register(f"Friend{i}") for i in range(3)]
    for index in range(6):
        chat_id = await gateway.create_chat(alice, f"Room {index}", *friends)
        await gateway.send(alice, chat_id, f"hello {index}")
    gateway.auth_calls.clear()
    gateway.chat_calls.clear()
    query = """{ chats { edges { node { name members { user { nickname } }
      lastMessage { text sender { nickname } } } } } }"""
    data = await gateway.data(query, token=alice.token)
    assert len(data["chats"]["edges"]) == 6
    assert all(len(e["node"]["members"]) == 4 for e in data["chats"]["edges"])
    # The last messages come with the page (one call), the members in one batch.
    assert gateway.chat_calls == {"/internal/chats": 1, "/internal/members": 1}
    assert sum(gateway.auth_calls.values()) == 0


REACT = """mutation React($id: ID!, $emoji: String!) {
  toggleReaction(messageId: $id, emoji: $emoji) { __typename }
}"""
REPLY = """mutation Reply($chatId: ID!, $text: String!, $replyTo: ID) {
  sendMessage(chatId: $chatId, text: $text, replyTo: $replyTo) {
    ... on SendMessagePayload { message { id } }
  }
}"""
LAST_MESSAGE = """fragment Last on Chat { databaseId lastMessage { id text kind
  sender { id nickname } reactions { emoji count reactedByMe users { nickname } }
  replyTo { messageId text sender { nickname } } } }"""


async def test_the_chat_lists_last_messages_are_the_chats_own(gateway: Gateway) -> None:
    """The list reads each chat's newest message with its page (and its plain fields without
    resolvers); one chat at a time, the loader reads it: both give the same answer."""
    alice, bob, with_reply = await gateway.alice_and_bob_in_a_room()
    first = await gateway.send(alice, with_reply, "first")
    reply = await gateway.data(
        REPLY, {"chatId": with_reply, "text": "answer", "replyTo": first["id"]}, bob.token
    )
    reply_id = reply["sendMessage"]["message"]["id"]
    for user, emoji in ((alice, "👍"), (bob, "👍"), (bob, "🎉")):
        await gateway.data(REACT, {"id": reply_id, "emoji": emoji}, user.token)
    plain = await gateway.create_chat(alice, "Plain", bob)
    await gateway.send(bob, plain, "hi")
    empty = await gateway.create_chat(alice, "Empty")
    await gateway.create_chat(bob, "Quiet")  # only bob's: not in alice's list
    gateway.chat_calls.clear()
    listed = await gateway.data(
        "query { chats { edges { node { ...Last } } } }" + LAST_MESSAGE, token=alice.token
    )
    assert gateway.chat_calls == {"/internal/chats": 1}  # last messages with the page
    by_chat = {edge["node"]["databaseId"]: edge["node"] for edge in listed["chats"]["edges"]}
    assert len(by_chat) == 3
    assert by_chat[_db_id(empty)]["lastMessage"] is None
    for global_id in (with_reply, plain, empty):
        one = await gateway.data(
            "query One($id: ID!) { chat(id: $id) { ...Last } }" + LAST_MESSAGE,
            {"id": global_id},
            alice.token,
        )
        assert by_chat[one["chat"]["databaseId"]] == one["chat"]
    answered = by_chat[_db_id(with_reply)]["lastMessage"]
    assert answered["replyTo"]["text"] == "first"
    assert [(r["emoji"], r["count"], r["reactedByMe"]) for r in answered["reactions"]] == [
        ("👍", 2, True),
        ("🎉", 1, False),
    ]


# --- mutations ----------------------------------------------------------------------------


async def test_create_chat(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    await gateway.register("Bob")
    ok = await typename(gateway, CREATE, {"name": "Room", "members": ["bob"]}, alice.token)
    assert ok == {"__typename": "CreateChatPayload", "chat": {"name": "Room", "myRole": "OWNER"}}
    solo = await typename(gateway, CREATE, {"name": "Solo"}, alice.token)
    assert solo["__typename"] == "CreateChatPayload"
    unknown = await typename(gateway, CREATE, {"name": "R", "members": ["Ghost"]}, alice.token)
    assert unknown["__typename"] == "NotFound"
    empty = await typename(gateway, CREATE, {"name": "  "}, alice.token)
    assert empty["__typename"] == "ValidationError"
    assert empty["field"] == "name"
    long_name = await typename(gateway, CREATE, {"name": "x" * 1000}, alice.token)
    assert long_name["__typename"] == "ValidationError"
    anonymous = await typename(gateway, CREATE, {"name": "Room"}, None)
    assert anonymous["__typename"] == "Unauthenticated"


async def test_add_member(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    bob = await gateway.register("Bob")
    eve = await gateway.register("Eve")
    chat_id = await gateway.create_chat(alice, "Room")
    ok = await typename(gateway, ADD_MEMBER, {"chatId": chat_id, "nickname": "bob"}, alice.token)
    assert ok["__typename"] == "AddMemberPayload"
    assert ok["member"] == {"user": {"nickname": "Bob"}, "role": "MEMBER"}
    assert {m["user"]["nickname"] for m in ok["chat"]["members"]} == {"Alice", "Bob"}
    again = await typename(gateway, ADD_MEMBER, {"chatId": chat_id, "nickname": "Bob"}, bob.token)
    assert again["__typename"] == "AlreadyAMember"
    outsider = await typename(
        gateway, ADD_MEMBER, {"chatId": chat_id, "nickname": "Eve"}, eve.token
    )
    assert outsider["__typename"] == "NotAMember"
    ghost = await typename(
        gateway, ADD_MEMBER, {"chatId": chat_id, "nickname": "Ghost"}, alice.token
    )
    assert ghost["__typename"] == "NotFound"
    for bad_id in (global_id("Chat", 999), "garbage", global_id("User", 1)):
        missing = await typename(
            gateway, ADD_MEMBER, {"chatId": bad_id, "nickname": "Eve"}, alice.token
        )
        assert missing["__typename"] == "NotFound", bad_id
    empty = await typename(gateway, ADD_MEMBER, {"chatId": chat_id, "nickname": ""}, alice.token)
    assert empty["__typename"] == "ValidationError"
    assert empty["field"] == "nickname"
    anonymous = await typename(gateway, ADD_MEMBER, {"chatId": chat_id, "nickname": "Eve"}, None)
    assert anonymous["__typename"] == "Unauthenticated"


async def test_leave_chat(gateway: Gateway) -> None:
    _alice, bob, chat_id = await gateway.alice_and_bob_in_a_room()
    ok = await typename(gateway, LEAVE, {"chatId": chat_id}, bob.token)
    assert ok == {"__typename": "LeaveChatPayload", "chatId": chat_id}
    again = await typename(gateway, LEAVE, {"chatId": chat_id}, bob.token)
    assert again["__typename"] == "NotAMember"
    missing = await typename(gateway, LEAVE, {"chatId": global_id("Chat", 999)}, bob.token)
    assert missing["__typename"] == "NotFound"
    malformed = await typename(gateway, LEAVE, {"chatId": "x"}, bob.token)
    assert malformed["__typename"] == "NotFound"
    anonymous = await typename(gateway, LEAVE, {"chatId": chat_id}, None)
    assert anonymous["__typename"] == "Unauthenticated"
    query = "query($id: ID!) { chat(id: $id) { id } }"
    assert (await gateway.data(query, {"id": chat_id}, bob.token))["chat"] is None


async def test_send_message(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    eve = await gateway.register("Eve")
    chat_id = await gateway.create_chat(alice, "Room")

    async def send(text: str, token: str | None, **extra: Any) -> Any:
        return await typename(
            gateway, SEND_ERRORS, {"chatId": chat_id, "text": text, **extra}, token
        )

    client_id = str(uuid.uuid4())
    ok = await send("hello", alice.token, clientId=client_id)
    assert ok["__typename"] == "SendMessagePayload"
    assert ok["message"]["text"] == "hello"
    assert ok["message"]["clientId"] == client_id
    retry = await send("hello", alice.token, clientId=client_id)
    assert retry["message"]["databaseId"] == ok["message"]["databaseId"]
    other_chat = await gateway.create_chat(alice, "Other")
    reused = await typename(
        gateway,
        SEND_ERRORS,
        {"chatId": other_chat, "text": "x", "clientId": client_id},
        alice.token,
    )
    assert reused["__typename"] == "ValidationError"
    assert reused["field"] == "clientId"
    not_uuid = await send("x", alice.token, clientId="c-1")
    assert not_uuid["__typename"] == "ValidationError"
    assert not_uuid["field"] == "clientId"
    empty = await send("   ", alice.token)
    assert empty["__typename"] == "ValidationError"
    assert empty["field"] == "text"
    huge = await send("x" * 20_000, alice.token)
    assert huge["__typename"] == "ValidationError"
    outsider = await send("hi", eve.token)
    assert outsider["__typename"] == "NotAMember"
    missing = await typename(
        gateway, SEND_ERRORS, {"chatId": global_id("Chat", 999), "text": "x"}, alice.token
    )
    assert missing["__typename"] == "NotFound"
    anonymous = await send("hi", None)
    assert anonymous["__typename"] == "Unauthenticated"


async def test_send_message_rate_limited(settings: Settings) -> None:
    limited = settings.model_copy(update={"send_rate_per_minute": 2})
    async with (
        composed(limited) as (app, auth, chat),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
    ):
        gw = Gateway(client, auth.calls, chat.calls, limited)
        alice = await gw.register("Alice")
        chat_id = await gw.create_chat(alice, "Room")
        results = [
            await typename(gw, SEND_ERRORS, {"chatId": chat_id, "text": f"m{i}"}, alice.token)
            for i in range(4)
        ]
    assert results[-1]["__typename"] == "RateLimited", results
    assert results[-1]["retryAfter"] > 0


async def test_mark_read(gateway: Gateway) -> None:
    alice, bob, chat_id = await gateway.alice_and_bob_in_a_room()
    message = await gateway.send(alice, chat_id, "read me")
    unread = "query($id: ID!) { chat(id: $id) { unreadCount } }"
    assert (await gateway.data(unread, {"id": chat_id}, bob.token))["chat"]["unreadCount"] == 1
    ok = await typename(
        gateway, MARK_READ, {"chatId": chat_id, "messageId": message["id"]}, bob.token
    )
    assert ok == {"__typename": "MarkReadPayload", "chat": {"unreadCount": 0}}
    bad = await typename(gateway, MARK_READ, {"chatId": chat_id, "messageId": "zz"}, bob.token)
    assert bad["__typename"] == "ValidationError"
    assert bad["field"] == "messageId"
    eve = await gateway.register("Eve")
    outsider = await typename(
        gateway, MARK_READ, {"chatId": chat_id, "messageId": message["id"]}, eve.token
    )
    assert outsider["__typename"] == "NotAMember"
    missing = await typename(
        gateway, MARK_READ, {"chatId": global_id("Chat", 999), "messageId": "1"}, bob.token
    )
    assert missing["__typename"] == "NotFound"
    anonymous = await typename(gateway, MARK_READ, {"chatId": chat_id, "messageId": "1"}, None)
    assert anonymous["__typename"] == "Unauthenticated"


# --- unexpected failures ------------------------------------------------------------------


async def test_unreachable_service_is_masked_as_unavailable_and_logged_with_request_id(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    topology = settings.model_copy(update={"auth_url": dead, "chat_url": dead})
    app = create_gateway_app(topology)
    token = token_codec(topology, embedded=False).issue(user_id=1, login="a", nickname="A")
    caplog.set_level(logging.ERROR, logger="mychat.gateway.error")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
    ):
        response = await client.post(
            GRAPHQL,
            json={"query": "{ chats { edges { cursor } } }"},
            headers={"authorization": f"Bearer {token}", "x-request-id": "req-12345"},
        )
        ready = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["errors"][0]["message"] == UNAVAILABLE_MESSAGE
    assert body["errors"][0]["extensions"] == {"code": "SERVICE_UNAVAILABLE"}
    assert "ServiceUnavailable" not in response.text
    assert "127.0.0.1" not in response.text
    assert any("req-12345" in record.getMessage() for record in caplog.records)
    assert ready.status_code == 503


def test_topology_gateway_needs_service_urls(settings: Settings) -> None:
    from mychat.settings import ConfigurationError

    with pytest.raises(ConfigurationError):
        create_gateway_app(settings)


async def test_send_helper_round_trip(gateway: Gateway) -> None:
    alice: User = await gateway.register("Alice")
    chat_id = await gateway.create_chat(alice)
    message = await gateway.send(alice, chat_id, "x")
    assert message["sender"]["nickname"] == "Alice"
    assert SEND
