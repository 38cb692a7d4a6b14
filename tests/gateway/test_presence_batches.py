"""A crowd coming online across two gateways: each watcher learns every arrival in a few
PresencesChanged frames (linear in the crowd, not quadratic), and nobody outside learns it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest

from mychat.settings import Settings
from tests.gateway.conftest import User
from tests.gateway.test_accounts_redis import TwoGateways, gateway_clients
from tests.gateway.test_redis_gateways import Processes, processes, start_topology
from tests.support.redis import PrivateRedis
from tests.support.websocket import GraphQLSocket, graphql_socket

pytestmark = pytest.mark.redis
__all__ = ["processes"]  # a fixture, used by name

BATCHED = """subscription {
  chatEvents(signals: true, presenceBatches: true) {
    __typename
    ... on PresencesChanged { changes { online user { nickname } } }
    ... on PresenceChanged { online user { nickname } }
  }
}"""
ONE_BY_ONE = """subscription {
  chatEvents(signals: true) { __typename ... on PresenceChanged { online user { nickname } } }
}"""
WATCHERS = 4
CROWD = 16
# Batches a watcher may see for the crowd: each gateway publishes one per 0.25 s gathered, and
# the crowd connects within a second or so. One frame per arrival would be CROWD.
MOST_FRAMES = 8


@pytest.fixture
async def two_gateways(
    settings: Settings, private_redis: PrivateRedis, processes: Processes
) -> AsyncIterator[TwoGateways]:
    """As tests/gateway/test_accounts_redis.py's, with room for a crowd to register."""
    env = {"MYCHAT_LOGIN_RATE_PER_MINUTE": "1000"}
    topology = await start_topology(settings, private_redis, processes, extra_env=env)
    async with gateway_clients(topology, settings) as (first, second):
        yield TwoGateways(topology, first, second)


async def frames_until_quiet(ws: GraphQLSocket, quiet: float = 1.5) -> list[dict[str, Any]]:
    events = []
    for message in await ws.until_quiet(quiet):
        assert message["type"] == "next", message
        events.append(message["payload"]["data"]["chatEvents"])
    return events


async def test_a_crowd_arriving_costs_each_watcher_a_few_frames(
    two_gateways: TwoGateways,
) -> None:
    topology, (first, second) = two_gateways.topology, two_gateways.both
    owner = await first.register("Owner")
    watchers = [await first.register(f"Watcher{n}") for n in range(WATCHERS)]
    crowd = [await second.register(f"Crowd{n}") for n in range(CROWD)]
    outsider = await first.register("Outsider")
    await first.create_chat(owner, "Hall", *watchers, *crowd)
    await first.create_chat(outsider, "Alone")

    async with AsyncExitStack() as stack:
        sockets: list[GraphQLSocket] = []
        for n, user in enumerate([*watchers, outsider]):
            ws = await stack.enter_async_context(
                graphql_socket(topology.ws_url(n % 2), token=user.token)
            )
            await ws.subscribe(ONE_BY_ONE if user is watchers[0] else BATCHED)
            sockets.append(ws)
        await asyncio.gather(*(frames_until_quiet(ws) for ws in sockets))  # their own arrivals

        async def arrive(n: int, user: User) -> None:
            await stack.enter_async_context(
                graphql_socket(topology.ws_url(n % 2), token=user.token)
            )

        await asyncio.gather(*(arrive(n, user) for n, user in enumerate(crowd)))
        seen = await asyncio.gather(*(frames_until_quiet(ws) for ws in sockets))

    crowd_names = {user.nickname for user in crowd}
    one_by_one, *batched, outsider_saw = seen
    # The per-person form, for clients that do not ask for batches: a frame per arrival.
    assert [event["__typename"] for event in one_by_one] == ["PresenceChanged"] * CROWD
    assert {event["user"]["nickname"] for event in one_by_one} == crowd_names
    for frames in batched:
        assert {event["__typename"] for event in frames} == {"PresencesChanged"}
        changes = [change for event in frames for change in event["changes"]]
        assert sorted(change["user"]["nickname"] for change in changes) == sorted(crowd_names)
        assert all(change["online"] for change in changes)
        assert 1 <= len(frames) <= MOST_FRAMES, len(frames)
    assert outsider_saw == []  # shares no chat with anyone of the crowd
