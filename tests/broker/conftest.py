"""Broker fixtures: each implementation behind the same interface, and a private Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mychat.broker import MemoryBroker
from mychat.broker.redis import RedisBroker
from tests.broker.redis_server import PrivateRedis


def private_channel() -> str:
    """A channel of this test's own: the machine's Redis is shared with other test runs."""
    return f"mychat:test:{secrets.token_hex(6)}"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[MemoryBroker | RedisBroker]:
    instance: MemoryBroker | RedisBroker
    if request.param == "memory":
        instance = MemoryBroker()
    else:
        url: str = request.getfixturevalue("redis_url")
        instance = RedisBroker(url, channel=private_channel())
    await instance.start()
    try:
        yield instance
    finally:
        await instance.close()


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
