"""The Redis presence store's heartbeat: a gateway's users renewed in few calls, arrivals told
apart from renewals, and what a sweep needs to announce a departure kept (gateway/
presence_redis.py, on the test Redis under a prefix of its own)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from gateway.presence_redis import RENEW_PER_CALL, RedisPresenceStore


@pytest.fixture
async def stores(redis_url: str) -> AsyncIterator[tuple[RedisPresenceStore, RedisPresenceStore]]:
    """Two gateways' stores sharing one prefix, with a 1 s ttl."""
    prefix = f"test:presence:{secrets.token_hex(4)}"
    pair = (
        RedisPresenceStore(redis_url, 1.0, prefix=prefix),
        RedisPresenceStore(redis_url, 1.0, prefix=prefix),
    )
    for store in pair:
        await store.start()
    try:
        yield pair
    finally:
        keys = [key async for key in pair[0].redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await pair[0].redis.delete(*keys)
        for store in pair:
            await store.close()


async def test_a_heartbeat_renews_many_users_and_tells_who_arrived(
    stores: tuple[RedisPresenceStore, RedisPresenceStore],
) -> None:
    one, other = stores
    users = {user_id: (f"user{user_id}", [1, user_id]) for user_id in range(1, RENEW_PER_CALL + 21)}
    assert sorted(await one.renew(users)) == sorted(users)  # two calls' worth: all arrive
    assert await one.renew(users) == []  # renewed: nobody arrives again
    assert await other.renew({1: users[1]}) == []  # held by the first gateway: not an arrival
    seen = await one.lookup([1, RENEW_PER_CALL + 20, 10**6])
    assert [seen[user].online for user in (1, RENEW_PER_CALL + 20, 10**6)] == [True, True, False]
    await asyncio.sleep(1.2)  # every hold has expired
    gone = {entry.user_id: entry for entry in await one.sweep()}
    assert set(gone) == set(users)
    assert (gone[7].nickname, gone[7].chat_ids) == ("user7", [1, 7])
    assert await one.renew({7: users[7]}) == [7]  # back: an arrival
