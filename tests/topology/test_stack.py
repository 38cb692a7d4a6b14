"""`mychat stack` with two gateways, everything through nginx, and faults survived."""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assembly.stack import Stack
from mychat.shutdown import SERVICE_RESTART
from tests.support.clients import graphql
from tests.support.people import PASSWORD, Person, unique
from tests.support.ports import LOCALHOST
from tests.support.redis import PrivateRedis
from tests.support.seed_contract import SEED_MESSAGE_KEYS
from tests.support.websocket import graphql_socket
from tests.topology.clients import (
    SEND_MESSAGE,
    Subscriber,
    create_chat_with,
    global_chat_id,
    history,
    register,
    send_rest,
    subscribed,
)
from tests.topology.conftest import start_stack, stop_stack

pytestmark = [pytest.mark.topology, pytest.mark.mariadb, pytest.mark.redis]


@pytest.fixture
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the stack the test asked for (its own `stack` or the module's)."""
    name = "stack" if "stack" in request.fixturenames else "shared_stack"
    target: Stack = request.getfixturevalue(name)
    async with httpx.AsyncClient(base_url=target.url, timeout=30) as http:
        yield http


def ws_url(stack: Stack) -> str:
    return stack.url.replace("http://", "ws://") + "/mychat/graphql"


async def room(client: httpx.AsyncClient) -> tuple[Person, Person, int, str, str]:
    """Alice and Bob in a chat with one message; (alice, bob, chat id, chat global id, the
    message's global id, to subscribe `after:` it so that nothing later can be missed)."""
    alice = await register(client, "Alice")
    bob = await register(client, "Bob")
    chat_id = await create_chat_with(client, alice, bob)
    chat = await global_chat_id(client, bob, chat_id)
    sent = await graphql(
        client,
        SEND_MESSAGE,
        {"chatId": chat, "text": "first", "clientId": str(uuid.uuid4())},
        alice.token,
    )
    assert sent["sendMessage"]["__typename"] == "SendMessagePayload", sent
    first: str = sent["sendMessage"]["message"]["id"]
    return alice, bob, chat_id, chat, first


def upstreams_of_websockets(stack: Stack) -> list[str]:
    """The gateway address of each finished WebSocket, from nginx's access log."""
    log = (stack.nginx_conf_path.parent / "access.log").read_text()
    return re.findall(r'"GET /mychat/graphql HTTP/1.1" 101 \d+ \S+ (\S+)', log)


async def test_the_seed_rest_contract_through_nginx(
    shared_stack: Stack, client: httpx.AsyncClient
) -> None:
    alice = await register(client, "Alice")
    bob = await register(client, "Bob")
    login = await client.post(
        "/mychat/api/auth/login", json={"login": alice.login, "password": PASSWORD}
    )
    assert login.status_code == 200
    assert login.json()["user"] == {
        "id": alice.id,
        "login": alice.login,
        "nickname": alice.nickname,
    }
    verify = await client.post("/mychat/api/auth/verify", json={"token": login.json()["token"]})
    assert verify.json()["valid"] is True
    chat_id = await create_chat_with(client, alice, bob)
    await send_rest(client, alice, chat_id, "Привет, Bob")
    await send_rest(client, bob, chat_id, "hi")
    chats = (await client.get("/mychat/api/chat/", headers=bob.headers)).json()
    assert [(c["id"], c["name"]) for c in chats] == [(chat_id, "Room")]
    messages = await history(client, bob, chat_id)
    assert [(m["sender_nickname"], m["text"]) for m in messages] == [
        (alice.nickname, "Привет, Bob"),
        (bob.nickname, "hi"),
    ]
    assert set(messages[0]) >= SEED_MESSAGE_KEYS
    unauthorized = await client.get("/mychat/api/chat/")
    assert (unauthorized.status_code, unauthorized.json()["error"]) == (401, "Unauthorized")
    left = await client.post(f"/mychat/api/chat/{chat_id}/leave", headers=bob.headers)
    assert left.json()["status"] == "ok"
    assert (await client.get("/mychat/api/openapi.json")).json()["openapi"].startswith("3.")


async def test_a_graphql_round_trip_through_nginx(
    shared_stack: Stack, client: httpx.AsyncClient
) -> None:
    carol = unique("Carol")
    registered = await graphql(
        client,
        """mutation($nickname: String!, $password: String!) {
            register(login: $nickname, password: $password, nickname: $nickname) {
              __typename ... on AuthPayload { token user { nickname } } } }""",
        {"nickname": carol, "password": PASSWORD},
    )
    token = registered["register"]["token"]
    assert registered["register"]["user"]["nickname"] == carol
    created = await graphql(
        client,
        """mutation { createChat(name: "Plans") {
            __typename ... on CreateChatPayload { chat { id name myRole } } } }""",
        {},
        token,
    )
    chat = created["createChat"]["chat"]
    assert (chat["name"], chat["myRole"]) == ("Plans", "OWNER")
    sent = await graphql(client, SEND_MESSAGE, {"chatId": chat["id"], "text": "hello"}, token)
    assert sent["sendMessage"]["__typename"] == "SendMessagePayload"
    read = await graphql(
        client,
        """query($id: ID!) { me { nickname } chat(id: $id) {
             name messages(last: 10) { edges { node { text sender { nickname } } } } } }""",
        {"id": chat["id"]},
        token,
    )
    assert read["me"]["nickname"] == carol
    edges = read["chat"]["messages"]["edges"]
    assert [(e["node"]["text"], e["node"]["sender"]["nickname"]) for e in edges] == [
        ("hello", carol)
    ]


async def test_subscribers_receive_messages_sent_through_the_other_gateway(
    shared_stack: Stack, client: httpx.AsyncClient
) -> None:
    alice, bob, _chat_id, chat, first = await room(client)
    url = ws_url(shared_stack)
    # Two sockets: nginx's least_conn puts them on different gateways, and a message sent
    # through either gateway reaches both, one of them only through Redis.
    subscribers = [
        Subscriber(url, bob, chat, after=first),
        Subscriber(url, alice, chat, after=first),
    ]
    async with subscribed(*subscribers):
        for i in range(3):
            await graphql(client, SEND_MESSAGE, {"chatId": chat, "text": f"live {i}"}, alice.token)
        for subscriber in subscribers:
            await subscriber.wait_for(3)
            assert subscriber.texts == ["live 0", "live 1", "live 2"]
    async with asyncio.timeout(10):  # nginx logs a WebSocket once it has closed
        while len(upstreams_of_websockets(shared_stack)) < 2:
            await asyncio.sleep(0.05)
    assert len(set(upstreams_of_websockets(shared_stack))) == 2


async def send_paced(
    client: httpx.AsyncClient, user: Person, chat_id: int, texts: list[str]
) -> None:
    for text in texts:
        await send_rest(client, user, chat_id, text)
        await asyncio.sleep(0.02)


async def test_a_killed_gateway_loses_no_message(stack: Stack, client: httpx.AsyncClient) -> None:
    alice, bob, chat_id, chat, first = await room(client)
    url = ws_url(stack)
    subscribers = [Subscriber(url, bob, chat, after=first), Subscriber(url, bob, chat, after=first)]
    texts = [f"m{i}" for i in range(60)]
    async with subscribed(*subscribers):
        sender = asyncio.create_task(send_paced(client, alice, chat_id, texts))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(stack.kill, "gateway-1")  # SIGKILL, mid-stream
        await sender
        for subscriber in subscribers:
            await subscriber.wait_for(len(texts))
    for subscriber in subscribers:
        assert subscriber.texts == texts  # every message once, in order
        assert len(set(subscriber.database_ids)) == len(texts)
    # The socket on the killed gateway came back through nginx on the other one.
    assert sorted(s.connections for s in subscribers) == [1, 2], [s.errors for s in subscribers]


async def test_sigterm_on_a_gateway_closes_subscriptions_with_1012(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    alice, bob, chat_id, chat, first = await room(client)
    url = ws_url(stack)
    subscribers = [Subscriber(url, bob, chat, after=first), Subscriber(url, bob, chat, after=first)]
    async with subscribed(*subscribers):
        await asyncio.to_thread(stack.stop_process, "gateway-2")
        await send_rest(client, alice, chat_id, "after the restart")
        for subscriber in subscribers:
            await subscriber.wait_for(1)
    assert sorted(len(s.close_codes) for s in subscribers) == [0, 1]
    assert [code for s in subscribers for code in s.close_codes] == [SERVICE_RESTART]
    assert all(s.texts == ["after the restart"] for s in subscribers)


async def test_a_redis_restart_resumes_delivery_and_fills_the_gap(
    stack: Stack, client: httpx.AsyncClient, private_redis: PrivateRedis
) -> None:
    alice, bob, chat_id, chat, first = await room(client)
    url = ws_url(stack)
    subscribers = [
        Subscriber(url, bob, chat, after=first),
        Subscriber(url, alice, chat, after=first),
    ]
    async with subscribed(*subscribers):
        await send_rest(client, alice, chat_id, "before")
        for subscriber in subscribers:
            await subscriber.wait_for(1)
        await private_redis.stop()
        # Sent while Redis is down: stored, but no event reaches the gateways.
        await send_rest(client, alice, chat_id, "during 1")
        await send_rest(client, alice, chat_id, "during 2")
        await private_redis.start()
        await asyncio.sleep(0.5)  # the brokers reconnect with backoff and resync
        await send_rest(client, alice, chat_id, "after")
        for subscriber in subscribers:
            await subscriber.wait_for(4)
    expected = ["before", "during 1", "during 2", "after"]
    for subscriber in subscribers:
        assert subscriber.texts == expected
        assert subscriber.connections == 1  # caught up on the same socket, no reconnect


async def send_until_accepted(
    client: httpx.AsyncClient, user: Person, chat: str, text: str, client_id: str
) -> dict[str, Any]:
    """Retry with the same client id until the send is accepted (as the web app does)."""
    while True:
        try:
            response = await client.post(
                "/mychat/graphql",
                json={
                    "query": SEND_MESSAGE,
                    "variables": {"chatId": chat, "text": text, "clientId": client_id},
                },
                headers={"Authorization": f"Bearer {user.token}"},
            )
        except httpx.TransportError:
            await asyncio.sleep(0.05)
            continue
        body = response.json() if response.status_code == 200 else {}
        result = (body.get("data") or {}).get("sendMessage") or {}
        if result.get("__typename") == "SendMessagePayload":
            message: dict[str, Any] = result["message"]
            return message
        await asyncio.sleep(0.05)


async def test_restarting_chat_service_loses_and_duplicates_nothing(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    alice, bob, chat_id, chat, _first = await room(client)
    total = 80
    client_ids = [str(uuid.uuid4()) for _ in range(total)]
    accepted: list[dict[str, Any]] = []

    async def send_all() -> None:
        for i, client_id in enumerate(client_ids):
            accepted.append(await send_until_accepted(client, alice, chat, f"c{i}", client_id))

    sender = asyncio.create_task(send_all())
    async with asyncio.timeout(60):
        while len(accepted) < 10:
            await asyncio.sleep(0.01)
    await asyncio.to_thread(stack.restart, "chat")
    await sender
    stored = await history(client, bob, chat_id)
    texts = [m["text"] for m in stored if m["text"] != "first"]
    assert texts == [f"c{i}" for i in range(total)]  # every accepted message, exactly once
    assert [m["clientId"] for m in accepted] == client_ids
    assert len({m["databaseId"] for m in accepted}) == total


async def test_bodies_over_64k_answer_413(shared_stack: Stack, client: httpx.AsyncClient) -> None:
    big = await client.post(
        "/mychat/api/chat/1/message", content=b'{"text": "' + b"x" * 70_000 + b'"}'
    )
    assert big.status_code == 413
    assert big.json()["code"] == "payload_too_large"
    graphql_big = await client.post("/mychat/graphql", content=b"x" * 70_000)
    assert graphql_big.status_code == 413


async def test_login_answers_429_after_the_burst(stack: Stack, client: httpx.AsyncClient) -> None:
    statuses = []
    for _ in range(25):
        response = await client.post(
            "/mychat/api/auth/login", json={"login": "nobody", "password": "wrong password"}
        )
        statuses.append(response.status_code)
    assert statuses[0] == 400  # the seed's "Invalid login or password"
    assert statuses[-1] == 429
    limited = await client.post("/mychat/api/auth/login", json={})
    assert (limited.status_code, limited.json()["code"]) == (429, "rate_limited")
    # Registering shares the tight zone; the rest of the API does not.
    assert (await client.post("/mychat/api/auth/register", json={})).status_code == 429
    assert (await client.get("/mychat/api/chat/")).status_code == 401


async def test_nginx_takes_another_port_when_its_free_one_was_taken_meanwhile(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    """A free port is only free when it is chosen: another process may bind it before nginx
    does. The stack then picks another one, and the services allow that origin."""
    with socket.socket() as squatter:

        def take_the_port(planned: Stack) -> None:
            squatter.bind((LOCALHOST, planned.port))
            squatter.listen()

        running, database = await asyncio.to_thread(
            start_stack, tmp_path, private_redis.url, before_start=take_the_port
        )
        try:
            assert running.port != squatter.getsockname()[1]
            async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:
                alice = await register(client, "Alice")
            async with graphql_socket(ws_url(running), token=alice.token, origin=running.url):
                pass  # acknowledged: the gateway allows the stack's own (new) origin
        finally:
            await asyncio.to_thread(stop_stack, running, database)
