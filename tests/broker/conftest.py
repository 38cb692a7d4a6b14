"""Broker fixtures: each implementation behind the same interface, and a private Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from mychat.broker import MemoryBroker
from mychat.broker.redis import RedisBroker


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
