"""Accounts across processes on Redis: auth, chat and two gateways, each its own process.

A session signed out through one gateway is refused within a second by the other gateway (HTTP
and an open subscription, closed 4403), by chat_service and by auth_service; a deleted account
leaves its chats although chat_service runs elsewhere.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from auth_service.app import create_app as create_auth_app
from chat_service.app import create_app as create_chat_app
from gateway.app import create_app as create_gateway_app
from mychat.settings import Settings
from tests.gateway.conftest import Gateway
from tests.gateway.test_accounts import (
    CHANGE_PASSWORD,
    DELETE_ACCOUNT,
    END_SESSION,
    HISTORY,
    ME,
    SESSIONS,
    SIGN_OUT,
    second_session,
    signed_in,
)
from tests.gateway.test_redis_gateways import (
    Processes,
    Topology,
    lifespans,
    processes,
    start_topology,
)
from tests.gateway.test_subscriptions import MESSAGE_ADDED, settle
from tests.support.people import FAST_HASHES, PASSWORD
from tests.support.redis import PrivateRedis
from tests.support.websocket import graphql_socket

pytestmark = pytest.mark.redis
__all__ = ["processes"]  # the fixture, used by name (also by two_gateways)


async def last_accepted(started: float, accepted: Callable[[], Awaitable[bool]]) -> float:
    """Ask until `accepted()` is False; answer how long after `started` the last request that
    was still accepted had been sent (0 if none was). A request sent once the refusal is in
    force is refused, so this bounds when it came into force, however long a loaded machine
    takes to answer (only the 5 s limit bounds that)."""
    last = started
    async with asyncio.timeout(5.0):
        while True:
            asked_at = time.monotonic()
            if not await accepted():
                return last - started
            last = asked_at
            await asyncio.sleep(0.02)


@asynccontextmanager
async def gateway_clients(topology: Topology, settings: Settings) -> AsyncIterator[list[Gateway]]:
    clients = [httpx.AsyncClient(base_url=url, timeout=10) for url in topology.gateway_urls]
    try:
        yield [Gateway(client, Counter(), Counter(), settings) for client in clients]
    finally:
        for client in clients:
            await client.aclose()


@dataclass
class TwoGateways:
    topology: Topology
    first: Gateway
    second: Gateway

    @property
    def both(self) -> list[Gateway]:
        return [self.first, self.second]


@pytest.fixture
async def two_gateways(
    settings: Settings, private_redis: PrivateRedis, processes: Processes
) -> AsyncIterator[TwoGateways]:
    """auth, chat and two gateways, each its own process, on the test's MariaDB and Redis."""
    topology = await start_topology(settings, private_redis, processes)
    async with gateway_clients(topology, settings) as (first, second):
        yield TwoGateways(topology, first, second)


async def refused_everywhere(topology: Topology, gateways: list[Gateway], token: str) -> bool:
    """Whether chat_service, auth_service and every gateway refuse the token (asked at once)."""
    client = gateways[0].client
    headers = {"authorization": f"Bearer {token}"}
    chats, verify, *mes = await asyncio.gather(
        client.get(f"{topology.chat_url}/mychat/api/chat/", headers=headers),
        client.post(f"{topology.auth_url}/mychat/api/auth/verify", json={"token": token}),
        *(gw.data(ME, token=token) for gw in gateways),
    )
    refused = [me["me"] is None for me in mes]
    return chats.status_code == 401 and verify.status_code == 401 and all(refused)


async def test_a_signed_out_token_is_refused_within_a_second_on_every_process(
    two_gateways: TwoGateways,
) -> None:
    topology, first, second = two_gateways.topology, two_gateways.first, two_gateways.second
    alice = await second.register("Alice")
    bob = await second.register("Bob")
    chat_id = await second.create_chat(alice, "Across", bob)
    other_device = await second_session(first, alice, "other device")
    async with graphql_socket(topology.ws_url(0), token=alice.token) as ws:
        await ws.subscribe(MESSAGE_ADDED, {"chatId": chat_id})
        await settle()
        assert not await refused_everywhere(topology, [first, second], alice.token)
        result = (await second.data(SIGN_OUT, token=alice.token))["signOut"]
        assert result["__typename"] == "SignedOut"
        started = time.monotonic()
        assert await ws.wait_closed(timeout=1.0) == 4403  # on the other gateway

        async def accepted_somewhere() -> bool:
            return not await refused_everywhere(topology, [first, second], alice.token)

        assert await last_accepted(started, accepted_somewhere) < 1.0
    assert (await first.data(ME, token=other_device))["me"] == {"nickname": "Alice"}


async def test_a_deleted_account_leaves_its_chats_through_the_broker(
    settings: Settings, private_redis: PrivateRedis, processes: Processes
) -> None:
    topology = await start_topology(settings, private_redis, processes, gateways=1)
    async with gateway_clients(topology, settings) as (gw,):
        alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
        await gw.send(alice, chat_id, "bye")
        deleted = await gw.data(DELETE_ACCOUNT, {"password": PASSWORD}, alice.token)
        assert deleted["deleteAccount"]["__typename"] == "AccountDeleted"
        async with asyncio.timeout(5):
            while True:
                chat = (await gw.data(HISTORY, {"id": chat_id}, bob.token))["chat"]
                if [m["user"]["nickname"] for m in chat["members"]] == ["Bob"]:
                    break
                await asyncio.sleep(0.05)
        # Members and messages are two reads: read the history again, after the leave.
        chat = (await gw.data(HISTORY, {"id": chat_id}, bob.token))["chat"]
        message, left = chat["messages"]["edges"]  # "bye", then the system line of the leave
        assert message["node"]["sender"]["nickname"] == "Deleted user"
        assert left["node"]["text"] == ""


async def test_a_sign_out_published_while_redis_was_down_is_enforced_after_the_resync(
    settings: Settings, private_redis: PrivateRedis
) -> None:
    """auth, chat and the gateway each with their own Redis broker, as in separate processes:
    the revocation event is lost, and every process reloads the set when Redis is back."""
    on_redis = settings.model_copy(update={"redis_url": private_redis.url})
    auth = create_auth_app(on_redis, embedded=True, hash_parameters=FAST_HASHES)
    chat = create_chat_app(on_redis, embedded=True)
    app = create_gateway_app(on_redis, auth_app=auth, chat_app=chat)
    async with (
        lifespans(auth, chat, app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
        httpx.AsyncClient(transport=httpx.ASGITransport(chat), base_url="http://t") as chat_rest,
    ):
        gw = Gateway(client, Counter(), Counter(), settings)
        alice = await gw.register("Alice")
        laptop = await second_session(gw, alice, "laptop")
        await private_redis.stop()
        ended = (await gw.data(SIGN_OUT, token=laptop))["signOut"]
        assert ended["__typename"] == "SignedOut"  # committed; its event could not be sent
        await private_redis.start()
        headers = {"authorization": f"Bearer {laptop}"}
        async with asyncio.timeout(20):
            while (await gw.data(ME, token=laptop))["me"] is not None or (
                await chat_rest.get("/mychat/api/chat/", headers=headers)
            ).status_code != 401:
                await asyncio.sleep(0.1)
        assert (await gw.data(ME, token=alice.token))["me"] == {"nickname": "Alice"}


async def test_password_change_and_ended_sessions_reach_the_other_gateway(
    two_gateways: TwoGateways,
) -> None:
    first, second = two_gateways.both
    alice = await first.register("Alice")
    phone = await second_session(second, alice, "phone")
    tablet = await second_session(second, alice, "tablet")
    sessions = (await first.data(SESSIONS, token=alice.token))["sessions"]
    tablet_id = next(row["id"] for row in sessions if row["device"] == "tablet")
    await first.data(END_SESSION, {"id": tablet_id}, alice.token)
    changed = await first.data(
        CHANGE_PASSWORD, {"old": PASSWORD, "new": "a brand new secret"}, alice.token
    )
    assert changed["changePassword"] == {"__typename": "PasswordChanged", "signedOut": 1}
    started = time.monotonic()

    async def either_accepted() -> bool:
        return any(await asyncio.gather(signed_in(second, phone), signed_in(second, tablet)))

    assert await last_accepted(started, either_accepted) < 1.0
    assert await signed_in(second, alice.token)
