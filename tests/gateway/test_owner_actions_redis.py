"""A member removed through one gateway stops receiving at once on another (Redis broker)."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from mychat.settings import Settings
from tests.gateway.conftest import Gateway
from tests.gateway.test_http_api import typename
from tests.gateway.test_owner_actions import CHAT_EVENTS, REMOVE
from tests.gateway.test_redis_gateways import Processes, processes, start_topology
from tests.gateway.test_subscriptions import MESSAGE_ADDED, settle
from tests.support.redis import PrivateRedis
from tests.support.websocket import graphql_socket

pytestmark = pytest.mark.redis
__all__ = ["processes"]  # the fixture, used by name


async def test_removal_ends_the_subscriptions_on_every_gateway(
    settings: Settings, private_redis: PrivateRedis, processes: Processes
) -> None:
    topology = await start_topology(settings, private_redis, processes)
    second = topology.gateway_urls[1]
    async with httpx.AsyncClient(base_url=second, timeout=10) as client:
        via_second = Gateway(client, Counter(), Counter(), settings)
        alice = await via_second.register("Alice")
        bob = await via_second.register("Bob")
        chat_id = await via_second.create_chat(alice, "Across", bob)
        async with graphql_socket(topology.ws_url(0), token=bob.token) as ws:
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
