"""One account must not slow everyone down: the attacks of issue 13, each refused at its limit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from gateway.clients import ChatClient
from gateway.limits import GatewayLimits
from gateway.transport import InProcessTransport
from mychat.settings import Settings
from tests.gateway.conftest import Gateway, LiveServer, serve_live
from tests.support.websocket import LEGACY_WS, TRANSPORT_WS, graphql_socket

HEAVY_SELECTION = """subscription {
  chatEvents {
    __typename
    ... on MessageAdded {
      chat { name unreadCount members { user { nickname } } lastMessage { text } }
    }
  }
}"""


@pytest.mark.parametrize("protocol", [LEGACY_WS, TRANSPORT_WS])
@pytest.mark.parametrize("frame", ["null", "[]", "1", '"x"', '{"id":"1"}', '{"type":"start"}'])
async def test_bad_first_frames_close_4400(live: LiveServer, protocol: str, frame: str) -> None:
    async with graphql_socket(live.ws_url, protocol, init=False) as ws:
        await ws.connection.send(frame)
        assert await ws.wait_closed() == 4400


async def test_legacy_start_without_a_query_closes_4400(live: LiveServer) -> None:
    alice = await live.gateway.register("Alice")
    async with graphql_socket(live.ws_url, LEGACY_WS, token=alice.token) as ws:
        await ws.send({"type": "start", "id": "1", "payload": {"variables": {}}})
        assert await ws.wait_closed() == 4400


async def _limited(settings: Settings, **limits: int) -> Settings:
    return settings.model_copy(update=limits)


async def test_sockets_per_user_beyond_the_limit_close_4429(settings: Settings) -> None:
    async with serve_live(await _limited(settings, ws_per_user=3)) as live:
        alice = await live.gateway.register("Alice")
        for protocol in (TRANSPORT_WS, LEGACY_WS):
            async with (
                graphql_socket(live.ws_url, protocol, token=alice.token),
                graphql_socket(live.ws_url, protocol, token=alice.token),
                graphql_socket(live.ws_url, protocol, token=alice.token),
                graphql_socket(live.ws_url, protocol, init=False) as fourth,
            ):
                init = {"authorization": f"Bearer {alice.token}"}
                await fourth.send({"type": "connection_init", "payload": init})
                assert await fourth.wait_closed() == 4429
                assert "per user" in str(fourth.connection.close_reason)
        # Closed sockets give their places back.
        async with graphql_socket(live.ws_url, token=alice.token) as again:
            await again.send({"type": "ping"})
            assert (await again.receive())["type"] == "pong"


async def test_unauthenticated_sockets_per_address_are_capped(settings: Settings) -> None:
    async with serve_live(await _limited(settings, ws_unauthenticated_per_address=2)) as live:
        async with (
            graphql_socket(live.ws_url, init=False),
            graphql_socket(live.ws_url, init=False),
            graphql_socket(live.ws_url, init=False) as third,
        ):
            assert await third.wait_closed() == 4429
        async with graphql_socket(live.ws_url, init=False) as later:
            await later.send({"type": "ping"})
            assert (await later.receive())["type"] == "pong"


async def test_subscription_amplification_is_refused_beyond_the_limit(settings: Settings) -> None:
    """The attack: many sockets x many heavy `chatEvents`, then sends into one's own chat. Past
    the per-user limit subscriptions are refused with a typed error, and an event costs the
    same service calls however many identical subscriptions the user holds."""
    limits = {"ws_per_user": 5, "subscriptions_per_user": 8}
    async with serve_live(await _limited(settings, **limits)) as live:
        gw = live.gateway
        attacker = await gw.register("Mallory")
        chat_id = await gw.create_chat(attacker, "Own")
        accepted: list[tuple[Any, str]] = []
        refused: list[dict[str, Any]] = []
        sockets = [graphql_socket(live.ws_url, token=attacker.token) for _ in range(5)]
        opened = [await socket.__aenter__() for socket in sockets]
        try:
            for ws in opened:
                for _ in range(4):
                    op = await ws.subscribe(HEAVY_SELECTION)
                    accepted.append((ws, op))
            await asyncio.sleep(0.5)
            for ws in opened:
                refused.extend(await ws.until_quiet(0.3))
            assert len(refused) == 20 - 8, refused
            for message in refused:
                errors = message["payload"]
                assert message["type"] == "error", message
                assert errors[0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS", message
            gw.chat_calls.clear()
            await gw.send(attacker, chat_id, "one")
            received = 0
            for ws in opened:
                for message in await ws.until_quiet(1.0):
                    if message["type"] == "next":
                        received += 1
                        chat = message["payload"]["data"]["chatEvents"]["chat"]
                        assert chat["name"] == "Own"
            assert received == 8
            # One send, one execution of the heavy selection for the user's 8 subscriptions:
            # chats batch, members, last message (not 8 x 3).
            reads = {path: n for path, n in gw.chat_calls.items() if "messages" not in path}
            assert sum(reads.values()) <= 3, gw.chat_calls
        finally:
            for socket in sockets:
                await socket.__aexit__(None, None, None)


PAGES = " ".join(f"m{n}: messages(last: 200) {{ edges {{ node {{ text }} }} }}" for n in range(29))
COSTLY = "{ chats(first: 100) { edges { node { " + PAGES + " } } } }"


async def test_the_cost_attack_is_refused_before_any_service_call(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    gateway.chat_calls.clear()
    body = await gateway.post(COSTLY, token=alice.token)
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY", body
    assert error["extensions"]["cost"]["serviceCalls"] == 1 + 29 * 100
    assert body.get("data") is None
    assert not gateway.chat_calls  # refused before any work


async def test_page_sizes_multiply_and_variables_count(gateway: Gateway) -> None:
    alice = await gateway.register("Alice")
    query = (
        "query($n: Int) { chats(first: $n) { edges { node { "
        "messages(last: 10) { edges { cursor } } } } } }"
    )
    small = await gateway.post(query, {"n": 5}, alice.token)
    assert "errors" not in small, small
    large = await gateway.post(query, {"n": 100}, alice.token)
    assert large["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY", large


async def test_the_web_apps_documents_fit_the_budget(gateway: Gateway) -> None:
    """The page's own heaviest documents run under the default limits."""
    alice = await gateway.register("Alice")
    chat_id = await gateway.create_chat(alice)
    body = await gateway.post(
        "query($id: ID!) { me { id } chats(first: 50) { edges { node { id unreadCount "
        "lastMessage { text sender { nickname } } members { user { nickname } } } } } "
        "chat(id: $id) { messages(last: 50) { edges { node { text } } } } }",
        {"id": chat_id},
        alice.token,
    )
    assert "errors" not in body, body


async def test_cost_rate_per_user_is_a_typed_error(settings: Settings) -> None:
    async with serve_live(await _limited(settings, graphql_cost_per_minute=10)) as live:
        gw = live.gateway
        alice = await gw.register("Alice")
        bob = await gw.register("Bob")
        query = "{ chats(first: 5) { edges { node { id } } } }"
        codes = []
        for _ in range(12):
            body = await gw.post(query, token=alice.token)
            codes.append(body["errors"][0]["extensions"]["code"] if "errors" in body else "ok")
        assert codes[:9] == ["ok"] * 9, codes  # registering cost Alice one
        assert codes[-1] == "RATE_LIMITED", codes
        body = await gw.post(query, token=alice.token)
        assert body["errors"][0]["extensions"]["retryAfter"] >= 1
        assert "errors" not in await gw.post(query, token=bob.token)  # others unaffected


async def test_repeating_a_refused_query_ends_in_rate_limited(settings: Settings) -> None:
    """Refused operations are cheap but not free: each spends the per-request maximum."""
    limits = {"graphql_cost_per_minute": 120, "graphql_max_service_calls": 50}
    async with serve_live(await _limited(settings, **limits)) as live:
        alice = await live.gateway.register("Alice")
        codes = [
            (await live.gateway.post(COSTLY, token=alice.token))["errors"][0]["extensions"]["code"]
            for _ in range(5)
        ]
        # 120 a minute, 1 spent registering: two refusals of 50 each, then the budget is gone.
        assert codes == ["QUERY_TOO_COSTLY"] * 2 + ["RATE_LIMITED"] * 3, codes


async def test_one_users_calls_in_flight_are_bounded() -> None:
    """However many requests one user runs at once, at most N of their service calls are in
    flight (the rest wait), so one heavy request cannot take the services' whole pool."""
    limits = GatewayLimits(service_calls_per_user=2)
    in_flight = peak = 0

    async def service(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"chat_ids": []}'})

    transport = InProcessTransport(service, "chat.internal")
    alice = limits.call_slots("user:1")
    assert limits.call_slots("user:1") is alice
    clients = [ChatClient(transport, "t", set(), None, alice) for _ in range(10)]
    await asyncio.gather(*(client.chat_ids() for client in clients))
    assert peak == 2
    peak = 0
    bob = limits.call_slots("user:2")
    both = [ChatClient(transport, "t", set(), None, slots) for slots in (alice, bob) * 5]
    await asyncio.gather(*(client.chat_ids() for client in both))
    assert peak == 4  # each user has their own two


USER_NODE = "query($id: ID!) { node(id: $id) { id ... on User { nickname } } }"


async def test_user_ids_show_nicknames_only_to_people_sharing_a_chat(gateway: Gateway) -> None:
    """The harvest: walking `node(id:)` over user ids. A stranger's id is null, like an
    unknown one; a co-member's shows their nickname until they no longer share a chat."""
    alice = await gateway.register("Alice")
    bob = await gateway.register("Bob")
    carol = await gateway.register("Carol")
    assert (await gateway.data(USER_NODE, {"id": carol.id}, alice.token))["node"] is None
    assert (await gateway.data(USER_NODE, {"id": alice.id}, alice.token))["node"] == {
        "id": alice.id,
        "nickname": "Alice",
    }
    chat_id = await gateway.create_chat(alice, "Pair", bob)
    seen = (await gateway.data(USER_NODE, {"id": bob.id}, alice.token))["node"]
    assert seen == {"id": bob.id, "nickname": "Bob"}
    leave = "mutation($c: ID!) { leaveChat(chatId: $c) { __typename } }"
    await gateway.data(leave, {"c": chat_id}, bob.token)
    assert (await gateway.data(USER_NODE, {"id": bob.id}, alice.token))["node"] is None


CREATE = """mutation($name: String!, $members: [String!]) {
  createChat(name: $name, memberNicknames: $members) {
    __typename ... on RateLimited { retryAfter code }
  }
}"""
ADD = """mutation($c: ID!, $n: String!) {
  addMember(chatId: $c, nickname: $n) { __typename ... on RateLimited { retryAfter } }
}"""


async def test_chat_creation_and_adds_are_rate_limited_per_user(settings: Settings) -> None:
    limits = {"chat_create_rate_per_minute": 3, "member_add_rate_per_minute": 3}
    async with serve_live(await _limited(settings, **limits)) as live:
        gw = live.gateway
        mallory = await gw.register("Mallory")
        victims = [await gw.register(f"Victim{n}") for n in range(6)]
        names = [victim.nickname for victim in victims]
        kinds = []
        for n in range(4):
            result = await gw.data(
                CREATE, {"name": f"Spam {n}", "members": names[:1]}, mallory.token
            )
            kinds.append(result["createChat"]["__typename"])
        assert kinds == ["CreateChatPayload"] * 3 + ["RateLimited"], kinds
        chat_id = await gw.create_chat(victims[0], "Theirs")  # others are unaffected
        own = await gw.create_chat(victims[1], "Own")
        added = [
            (await gw.data(ADD, {"c": own, "n": name}, victims[1].token))["addMember"]
            for name in names[2:]
        ]
        assert [a["__typename"] for a in added] == ["AddMemberPayload"] * 3 + ["RateLimited"]
        assert added[-1]["retryAfter"] >= 1
        rest = await gw.client.post(
            "/mychat/api/chat/",
            json={"name": "Spam REST"},
            headers={"authorization": f"Bearer {mallory.token}"},
        )
        assert rest.status_code == 429, rest.text
        assert chat_id
