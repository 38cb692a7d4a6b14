"""Accounts through GraphQL on the in-memory broker: sessions, sign-outs, password, deletion.

A signed-out token is refused at once by the gateway (HTTP and open WebSockets, closed 4403),
by chat_service and by auth_service; tests/gateway/test_accounts_redis.py does the same across
processes on Redis.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import httpx
from starlette.websockets import WebSocket

from tests.gateway.conftest import Gateway, LiveServer, User
from tests.gateway.test_subscriptions import MESSAGE_ADDED, PROTOCOLS, next_data
from tests.support.people import PASSWORD
from tests.support.websocket import graphql_socket

LOGIN = """
mutation Login($login: String!, $password: String!) {
  login(login: $login, password: $password) {
    __typename
    ... on AuthPayload { token }
    ... on Error { message code }
    ... on RateLimited { retryAfter }
  }
}
"""
SESSIONS = "{ sessions { id device createdAt lastUsedAt current } }"
ME = "{ me { nickname } }"
SIGN_OUT = "mutation { signOut { __typename ... on SignedOut { signedOut } } }"
SIGN_OUT_EVERYWHERE = "mutation { signOutEverywhere { __typename ... on SignedOut { signedOut } } }"
END_SESSION = """
mutation End($id: ID!) {
  endSession(id: $id) { __typename ... on SignedOut { signedOut } ... on Error { code } }
}
"""
CHANGE_PASSWORD = """
mutation Change($old: String!, $new: String!) {
  changePassword(oldPassword: $old, newPassword: $new) {
    __typename
    ... on PasswordChanged { signedOut }
    ... on ValidationError { field message }
    ... on RateLimited { retryAfter }
  }
}
"""
DELETE_ACCOUNT = """
mutation Delete($password: String!) {
  deleteAccount(password: $password) {
    __typename
    ... on AccountDeleted { userId }
    ... on ValidationError { field message }
  }
}
"""
HISTORY = """
query History($id: ID!) {
  chat(id: $id) {
    members { user { nickname } }
    messages(last: 10) { edges { node { text kind sender { nickname } } } }
  }
}
"""


async def login(gw: Gateway, user: User, agent: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await gw.client.post(
        "/mychat/graphql",
        json={"query": LOGIN, "variables": {"login": user.nickname.lower(), "password": password}},
        headers={"user-agent": agent},
    )
    result: dict[str, Any] = response.json()["data"]["login"]
    return result


async def second_session(gw: Gateway, user: User, agent: str) -> str:
    result = await login(gw, user, agent)
    assert result["__typename"] == "AuthPayload", result
    token: str = result["token"]
    return token


async def signed_in(gw: Gateway, token: str) -> bool:
    return (await gw.data(ME, token=token))["me"] is not None


async def rest_status(client: httpx.AsyncClient, token: str) -> tuple[int, int]:
    """What chat_service's and auth_service's REST endpoints answer to this token."""
    chats = await client.get("/mychat/api/chat/", headers={"authorization": f"Bearer {token}"})
    verify = await client.post("/mychat/api/auth/verify", json={"token": token})
    return chats.status_code, verify.status_code


async def test_a_login_over_a_socket_names_its_device_and_the_headers_go(
    live: LiveServer,
) -> None:
    """The socket's context reads the handshake's user agent when the socket opens; the
    socket then keeps no headers (gateway/view.py), and a login over it still names its device."""
    gw = live.gateway
    alice = await gw.register("Alice")
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"
    async with graphql_socket(live.ws_url, token=alice.token, user_agent=firefox) as ws:
        variables = {"login": alice.nickname.lower(), "password": PASSWORD}
        op = await ws.subscribe(LOGIN, variables)
        answer = await next_data(ws, op)
        token = answer["data"]["login"]["token"]
        # type(), not isinstance(): the latter dereferences what it is given, and a weak
        # proxy among the objects (an earlier test's) raises once its referent is gone.
        sockets = [s for s in gc.get_objects() if type(s) is WebSocket]
        assert sockets  # the gateway's side of this socket
        assert all(socket.scope["headers"] == [] for socket in sockets)
    sessions = (await gw.data(SESSIONS, token=token))["sessions"]
    assert [row["device"] for row in sessions if row["current"]] == ["Firefox on Linux"]


async def test_sessions_list_devices_and_end_one(live: LiveServer) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    laptop = await second_session(gw, alice, firefox)
    sessions = (await gw.data(SESSIONS, token=laptop))["sessions"]
    assert len(sessions) == 2
    current = [row for row in sessions if row["current"]]
    assert [row["device"] for row in current] == ["Firefox on Linux"]
    other = next(row for row in sessions if not row["current"])
    assert other["device"] == "Python httpx"
    ended = (await gw.data(END_SESSION, {"id": other["id"]}, laptop))["endSession"]
    assert ended == {"__typename": "SignedOut", "signedOut": 1}
    assert not await signed_in(gw, alice.token)
    assert await signed_in(gw, laptop)
    again = (await gw.data(END_SESSION, {"id": other["id"]}, laptop))["endSession"]
    assert again == {"__typename": "NotFound", "code": "not_found"}
    # Someone else's session id is "not found" too, and stays signed in.
    bob = await gw.register("Bob")
    bob_session = (await gw.data(SESSIONS, token=bob.token))["sessions"][0]["id"]
    refused = (await gw.data(END_SESSION, {"id": bob_session}, laptop))["endSession"]
    assert refused["__typename"] == "NotFound"
    assert await signed_in(gw, bob.token)


@PROTOCOLS
async def test_sign_out_refuses_the_token_everywhere_at_once(
    live: LiveServer, protocol: str
) -> None:
    gw = live.gateway
    alice, _bob, chat_id = await gw.alice_and_bob_in_a_room()
    phone = await second_session(gw, alice, "MyChat test phone")
    assert await rest_status(gw.client, alice.token) == (200, 200)
    async with graphql_socket(live.ws_url, protocol, token=alice.token) as ws:
        async with live.subscribing():
            await ws.subscribe(MESSAGE_ADDED, {"chatId": chat_id})
        result = (await gw.data(SIGN_OUT, token=alice.token))["signOut"]
        assert result == {"__typename": "SignedOut", "signedOut": 1}
        started = time.monotonic()
        assert await ws.wait_closed(timeout=1.0) == 4403
        assert time.monotonic() - started < 1.0
    assert not await signed_in(gw, alice.token)
    assert await rest_status(gw.client, alice.token) == (401, 401)
    refused = (await gw.data(SIGN_OUT, token=alice.token))["signOut"]
    assert refused["__typename"] == "Unauthenticated"
    # The other session (another device) was not touched.
    assert await signed_in(gw, phone)
    # A signed-out token cannot open a new socket either.
    async with graphql_socket(live.ws_url, protocol, init=False) as ws:
        await ws.send({"type": "connection_init", "payload": {"token": alice.token}})
        assert await ws.wait_closed() == 4403


async def test_sign_out_everywhere_ends_every_session(live: LiveServer) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    tokens = [alice.token] + [await second_session(gw, alice, f"device {n}") for n in range(2)]
    result = (await gw.data(SIGN_OUT_EVERYWHERE, token=tokens[1]))["signOutEverywhere"]
    assert result == {"__typename": "SignedOut", "signedOut": 3}
    for token in tokens:
        assert not await signed_in(gw, token)
    assert await signed_in(gw, await second_session(gw, alice, "again"))


async def test_change_password_needs_the_old_one_and_signs_out_the_others(
    live: LiveServer,
) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    laptop = await second_session(gw, alice, "laptop")
    wrong = {"old": "not my password", "new": "a brand new secret"}
    refused = (await gw.data(CHANGE_PASSWORD, wrong, alice.token))["changePassword"]
    assert refused["__typename"] == "ValidationError"
    assert refused["field"] == "oldPassword"
    short = {"old": PASSWORD, "new": "short"}
    too_short = (await gw.data(CHANGE_PASSWORD, short, alice.token))["changePassword"]
    assert too_short["__typename"] == "ValidationError"
    assert too_short["field"] == "newPassword"
    assert await signed_in(gw, laptop)
    right = {"old": PASSWORD, "new": "a brand new secret"}
    changed = (await gw.data(CHANGE_PASSWORD, right, alice.token))["changePassword"]
    assert changed == {"__typename": "PasswordChanged", "signedOut": 1}
    assert await signed_in(gw, alice.token)  # this device stays signed in
    assert not await signed_in(gw, laptop)
    old = await login(gw, alice, "x")
    assert old["__typename"] == "Unauthenticated"
    assert (await login(gw, alice, "x", "a brand new secret"))["__typename"] == "AuthPayload"


async def test_delete_account_keeps_messages_under_deleted_user(live: LiveServer) -> None:
    gw = live.gateway
    alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
    await gw.send(alice, chat_id, "hello from alice")
    wrong = await gw.data(DELETE_ACCOUNT, {"password": "nope nope"}, alice.token)
    assert wrong["deleteAccount"]["__typename"] == "ValidationError"
    assert wrong["deleteAccount"]["field"] == "password"
    deleted = await gw.data(DELETE_ACCOUNT, {"password": PASSWORD}, alice.token)
    assert deleted["deleteAccount"] == {"__typename": "AccountDeleted", "userId": alice.id}
    assert not await signed_in(gw, alice.token)
    assert (await login(gw, alice, "x"))["__typename"] == "Unauthenticated"

    async def members() -> list[str]:
        chat = (await gw.data(HISTORY, {"id": chat_id}, bob.token))["chat"]
        return [member["user"]["nickname"] for member in chat["members"]]

    async with asyncio.timeout(5):  # chat_service hears of it through the broker
        while await members() != ["Bob"]:
            await asyncio.sleep(0.05)
    chat = (await gw.data(HISTORY, {"id": chat_id}, bob.token))["chat"]
    message, left = [edge["node"] for edge in chat["messages"]["edges"]]
    assert message == {
        "text": "hello from alice",
        "kind": "TEXT",
        "sender": {"nickname": "Deleted user"},
    }
    assert left == {"text": "", "kind": "LEFT", "sender": {"nickname": "Deleted user"}}
    # The login and the nickname are free again; the deleted user cannot be added anywhere.
    again = await gw.register("Alice")
    assert again.id != alice.id
    await gw.create_chat(bob, "Other")
    add = await gw.post(
        'mutation($c: ID!) { addMember(chatId: $c, nickname: "Deleted user") { __typename } }',
        {"c": chat_id},
        bob.token,
    )
    assert add["data"]["addMember"]["__typename"] == "NotFound"


async def test_failed_logins_answer_a_typed_error_saying_how_long(live: LiveServer) -> None:
    gw = live.gateway
    alice = await gw.register("Alice")
    answers = [await login(gw, alice, "x", "wrong password") for _ in range(5)]
    assert [answer["__typename"] for answer in answers[:4]] == ["Unauthenticated"] * 4
    assert answers[4]["__typename"] == "RateLimited"
    assert answers[4]["retryAfter"] >= 1
