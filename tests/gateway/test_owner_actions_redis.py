"""A member removed through one gateway stops receiving at once on another (Redis broker)."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from mychat.settings import Settings
from tests.gateway.conftest import GRAPHQL, Gateway
from tests.gateway.test_http_api import typename
from tests.gateway.test_owner_actions import CHAT_EVENTS, REMOVE
from tests.gateway.test_redis_gateways import Processes, processes, wait_ready
from tests.gateway.test_subscriptions import MESSAGE_ADDED, settle
from tests.support.env import TEST_JWT_SECRET
from tests.support.ports import free_port
from tests.support.redis import PrivateRedis
from tests.support.websocket import graphql_socket

pytestmark = pytest.mark.redis
__all__ = ["processes"]  # the fixture, used by name


async def test_removal_ends_the_subscriptions_on_every_gateway(
    settings: Settings, private_redis: PrivateRedis, processes: Processes
) -> None:
    assert settings.database_url
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": private_redis.url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "MYCHAT_HOST": "127.0.0.1",
        "MYCHAT_LOG_LEVEL": "warning",
    }
    auth_url = processes.serve("auth", free_port(), env)
    chat_url = processes.serve("chat", free_port(), env)
    gateway_env = {**env, "MYCHAT_AUTH_URL": auth_url, "MYCHAT_CHAT_URL": chat_url}
    first_port = free_port()
    first = processes.serve("gateway", first_port, gateway_env)
    second = processes.serve("gateway", free_port(), gateway_env)
    await asyncio.gather(*(wait_ready(url) for url in (auth_url, chat_url, first, second)))

    async with httpx.AsyncClient(base_url=second, timeout=10) as client:
        via_second = Gateway(client, Counter(), Counter(), settings)
        alice = await via_second.register("Alice")
        bob = await via_second.register("Bob")
        chat_id = await via_second.create_chat(alice, "Across", bob)
        url = f"ws://127.0.0.1:{first_port}{GRAPHQL}"
        async with graphql_socket(url, token=bob.token) as ws:
            messages = await ws.subscribe(MESSAGE_ADDED, {"chatId": chat_id})
            events = await ws.subscribe(CHAT_EVENTS)
            await settle()
            variables = {"chatId": chat_id, "userId": bob.id}
            removed = await typename(via_second, REMOVE, variables, alice.token)
            assert removed["__typename"] == "RemoveMemberPayload"
            # The two subscriptions are independent streams: their messages may interleave.
            by_id: dict[str, list[dict[str, object]]] = {events: [], messages: []}
            while len(by_id[events]) < 1 or len(by_id[messages]) < 2:
                message = await ws.next_payload()
                by_id[message["id"]].append(message)
            (removal,) = by_id[events]
            payload = removal["payload"]
            assert isinstance(payload, dict)
            assert payload["data"]["chatEvents"] == {
                "__typename": "RemovedFromChat",
                "chatId": chat_id,
            }
            ended, completed = by_id[messages]
            error = ended["payload"]
            assert isinstance(error, dict)
            assert error["errors"][0]["extensions"]["code"] == "NOT_A_MEMBER"
            assert completed == {"id": messages, "type": "complete"}
