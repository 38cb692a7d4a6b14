"""Accounts across processes on Redis: auth, chat and two gateways, each its own process.

A session signed out through one gateway is refused within a second by the other gateway (HTTP
and an open subscription, closed 4403), by chat_service and by auth_service; a deleted account
leaves its chats although chat_service runs elsewhere.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from mychat.settings import Settings
from tests.gateway.conftest import GRAPHQL, Gateway
from tests.gateway.test_accounts import DELETE_ACCOUNT, HISTORY, ME, SIGN_OUT, second_session
from tests.gateway.test_redis_gateways import Processes, processes, wait_ready
from tests.gateway.test_subscriptions import MESSAGE_ADDED, settle
from tests.support.env import TEST_JWT_SECRET
from tests.support.people import PASSWORD
from tests.support.ports import free_port
from tests.support.redis import PrivateRedis
from tests.support.websocket import graphql_socket

pytestmark = pytest.mark.redis
__all__ = ["processes"]  # the fixture, used by name


@dataclass
class Topology:
    auth_url: str
    chat_url: str
    gateway_urls: list[str]

    def ws_url(self, index: int) -> str:
        return self.gateway_urls[index].replace("http://", "ws://") + GRAPHQL


async def start_topology(
    settings: Settings, redis: PrivateRedis, processes: Processes, gateways: int = 2
) -> Topology:
    assert settings.database_url
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": redis.url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "MYCHAT_HOST": "127.0.0.1",
        "MYCHAT_LOG_LEVEL": "warning",
    }
    auth_url = processes.serve("auth", free_port(), env)
    chat_url = processes.serve("chat", free_port(), env)
    gateway_env = {**env, "MYCHAT_AUTH_URL": auth_url, "MYCHAT_CHAT_URL": chat_url}
    gateway_urls = [processes.serve("gateway", free_port(), gateway_env) for _ in range(gateways)]
    await asyncio.gather(*(wait_ready(url) for url in (auth_url, chat_url, *gateway_urls)))
    return Topology(auth_url, chat_url, gateway_urls)


@asynccontextmanager
async def gateway_clients(topology: Topology, settings: Settings) -> AsyncIterator[list[Gateway]]:
    clients = [httpx.AsyncClient(base_url=url, timeout=10) for url in topology.gateway_urls]
    try:
        yield [Gateway(client, Counter(), Counter(), settings) for client in clients]
    finally:
        for client in clients:
            await client.aclose()


async def refused_everywhere(topology: Topology, gateways: list[Gateway], token: str) -> bool:
    async with httpx.AsyncClient(timeout=10) as client:
        headers = {"authorization": f"Bearer {token}"}
        chats = await client.get(f"{topology.chat_url}/mychat/api/chat/", headers=headers)
        verify = await client.post(
            f"{topology.auth_url}/mychat/api/auth/verify", json={"token": token}
        )
    mes = [(await gw.data(ME, token=token))["me"] for gw in gateways]
    return chats.status_code == 401 and verify.status_code == 401 and mes == [None] * len(mes)


async def test_a_signed_out_token_is_refused_within_a_second_on_every_process(
    settings: Settings, private_redis: PrivateRedis, processes: Processes
) -> None:
    topology = await start_topology(settings, private_redis, processes)
    async with gateway_clients(topology, settings) as (first, second):
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
            async with asyncio.timeout(1.0):
                while not await refused_everywhere(topology, [first, second], alice.token):
                    await asyncio.sleep(0.02)
            assert time.monotonic() - started < 1.0
        assert (await first.data(ME, token=other_device))["me"] == {"nickname": "Alice"}


async def test_a_deleted_account_leaves_its_chats_through_the_broker(
    settings: Settings, private_redis: PrivateRedis, processes: Processes
) -> None:
    topology = await start_topology(settings, private_redis, processes, gateways=1)
    async with gateway_clients(topology, settings) as (gw,):
        alice = await gw.register("Alice")
        bob = await gw.register("Bob")
        chat_id = await gw.create_chat(alice, "Room", bob)
        await gw.send(alice, chat_id, "bye")
        deleted = await gw.data(DELETE_ACCOUNT, {"password": PASSWORD}, alice.token)
        assert deleted["deleteAccount"]["__typename"] == "AccountDeleted"
        async with asyncio.timeout(5):
            while True:
                chat = (await gw.data(HISTORY, {"id": chat_id}, bob.token))["chat"]
                if [m["user"]["nickname"] for m in chat["members"]] == ["Bob"]:
                    break
                await asyncio.sleep(0.05)
        [edge] = chat["messages"]["edges"]
        assert edge["node"]["sender"]["nickname"] == "Deleted user"
