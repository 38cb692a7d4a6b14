"""What only the Redis broker does: cross-process delivery, one connection, surviving faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from mychat.broker import RESYNC, LocalSubscription
from mychat.broker.redis import RedisBroker
from tests.broker.conftest import private_channel
from tests.broker.test_contract import message_event, take
from tests.support.ports import free_port
from tests.support.redis import FreezableProxy, PrivateRedis

pytestmark = pytest.mark.redis


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


async def connections_named(admin: Redis, name: str) -> list[dict[str, str]]:
    clients: list[dict[str, str]] = await admin.client_list()
    return [client for client in clients if client["name"] == name]


async def kill_connections_named(admin: Redis, name: str) -> None:
    for client in await connections_named(admin, name):
        await admin.client_kill_filter(_id=client["id"])


async def test_two_brokers_see_each_others_events(redis_url: str) -> None:
    channel = private_channel()
    async with AsyncExitStack() as stack:
        one, two = RedisBroker(redis_url, channel=channel), RedisBroker(redis_url, channel=channel)
        for broker in (one, two):
            await broker.start()
            stack.push_async_callback(broker.close)
        on_one = await stack.enter_async_context(one.subscribe())
        on_two = await stack.enter_async_context(two.subscribe())
        await one.publish(message_event(1))
        await two.publish(message_event(2))
        assert await take(on_one, 2) == [message_event(1), message_event(2)]
        assert await take(on_two, 2) == [message_event(1), message_event(2)]


async def test_a_thousand_subscribers_share_one_connection(redis_url: str, admin: Redis) -> None:
    broker = RedisBroker(redis_url, channel=private_channel())
    await broker.start()
    try:
        async with AsyncExitStack() as stack:
            subscriptions = [
                await stack.enter_async_context(broker.subscribe()) for _ in range(1000)
            ]
            assert len(await connections_named(admin, broker.client_name)) == 1
            await broker.publish(message_event(1))
            for subscription in subscriptions:
                assert await take(subscription, 1) == [message_event(1)]
    finally:
        await broker.close()


async def test_a_killed_connection_reconnects_and_offers_resync(
    redis_url: str, admin: Redis
) -> None:
    broker = RedisBroker(redis_url, channel=private_channel())
    await broker.start()
    try:
        async with broker.subscribe() as subscription:
            await kill_connections_named(admin, broker.client_name)
            await kill_connections_named(admin, f"{broker.client_name}-pub")
            # Events published while it was away may be gone: the subscriber is told so.
            assert await take(subscription, 1) == [RESYNC]
            assert broker.connected
            await broker.publish(message_event(1))  # the publisher reconnects too
            assert await take(subscription, 1) == [message_event(1)]
            assert len(await connections_named(admin, broker.client_name)) == 1
    finally:
        await broker.close()


async def wait_until_published(broker: RedisBroker, subscription: LocalSubscription) -> None:
    """Publish until one arrives: Redis is back and the broker resubscribed."""
    async with asyncio.timeout(10):
        while True:
            try:
                await broker.publish(message_event(0))
            except RedisConnectionError:
                continue
            items = await take(subscription, 1)
            if items == [message_event(0)]:
                return


async def test_redis_restart_resumes_delivery_after_resync(private_redis: PrivateRedis) -> None:
    broker = RedisBroker(private_redis.url, channel=private_channel())
    await broker.start()
    try:
        async with broker.subscribe() as subscription:
            await private_redis.stop()
            with pytest.raises(RedisConnectionError):  # retried briefly, then raised
                await broker.publish(message_event(1))
            assert not broker.connected
            with pytest.raises(RedisConnectionError):
                await broker.check()
            await private_redis.start()
            assert await take(subscription, 1) == [RESYNC]
            await broker.publish(message_event(2))
            assert await take(subscription, 1) == [message_event(2)]
            await broker.check()
    finally:
        await broker.close()


async def test_subscriptions_opened_while_redis_is_down_get_resync(
    private_redis: PrivateRedis,
) -> None:
    broker = RedisBroker(private_redis.url, channel=private_channel())
    await broker.start()
    try:
        await private_redis.stop()
        async with broker.subscribe() as subscription:
            await private_redis.start()
            assert await take(subscription, 1) == [RESYNC]
            await wait_until_published(broker, subscription)
    finally:
        await broker.close()


async def test_start_refuses_an_unreachable_redis() -> None:
    broker = RedisBroker(f"redis://127.0.0.1:{free_port()}/0", start_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(RedisConnectionError):
        await broker.start()
    assert time.monotonic() - started < 3


async def test_publish_after_close_is_refused(redis_url: str) -> None:
    broker = RedisBroker(redis_url, channel=private_channel())
    await broker.start()
    await broker.close()
    with pytest.raises(RuntimeError):
        await broker.publish(message_event(1))
    async with broker.subscribe() as subscription:
        assert [item async for item in subscription] == []  # ends at once


async def test_malformed_messages_are_skipped(redis_url: str, admin: Redis) -> None:
    channel = private_channel()
    broker = RedisBroker(redis_url, channel=channel)
    await broker.start()
    try:
        async with broker.subscribe() as subscription:
            await admin.publish(channel, b"not json")
            await admin.publish(channel, b'{"kind": "unknown", "chat_id": 1, "payload": {}}')
            await broker.publish(message_event(1))
            assert await take(subscription, 1) == [message_event(1)]
    finally:
        await broker.close()


async def test_a_silently_dead_connection_is_noticed_by_the_heartbeat(
    private_redis: PrivateRedis,
) -> None:
    proxy = FreezableProxy(private_redis.port)
    await proxy.start()
    broker = RedisBroker(proxy.url, channel=private_channel(), heartbeat=0.2)
    await broker.start()
    try:
        async with broker.subscribe() as subscription:
            await asyncio.sleep(0.5)  # a few quiet heartbeats pass without a reconnect
            await broker.publish(message_event(1))
            assert await take(subscription, 1) == [message_event(1)]
            proxy.freeze()  # no error, no FIN: just silence
            assert await take(subscription, 1) == [RESYNC]  # a new connection, a resync
            await wait_until_published(broker, subscription)
    finally:
        await broker.close()
        await proxy.close()


async def test_a_publishing_broker_holds_no_pubsub_connection(redis_url: str, admin: Redis) -> None:
    """listen=False (chat_service): events reach listening brokers; nothing is read back."""
    channel = private_channel()
    listening = RedisBroker(redis_url, channel=channel)
    publishing = RedisBroker(redis_url, channel=channel, listen=False)
    await listening.start()
    await publishing.start()
    try:
        async with listening.subscribe() as subscription:
            await publishing.publish_many([message_event(1), message_event(2)])
            await publishing.publish(message_event(3))
            assert await take(subscription, 3) == [message_event(n) for n in (1, 2, 3)]
        assert await connections_named(admin, publishing.client_name) == []  # no pub/sub
        assert len(await connections_named(admin, f"{publishing.client_name}-pub")) == 1
        await publishing.check()  # ready: Redis answers
        with pytest.raises(RuntimeError, match="only publishes"):
            async with publishing.subscribe():
                pass
    finally:
        await publishing.close()
        await listening.close()
    with pytest.raises(RuntimeError):
        await publishing.check()


async def test_a_publishing_broker_refuses_to_start_without_redis() -> None:
    broker = RedisBroker(f"redis://127.0.0.1:{free_port()}/0", start_timeout=0.5, listen=False)
    with pytest.raises(RedisConnectionError):
        await broker.start()


async def test_a_publishing_broker_refuses_a_redis_that_does_not_answer() -> None:
    handled = asyncio.Event()

    async def accept_and_stay_silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            await reader.read()  # until the broker gives up and closes
        finally:
            writer.close()
            handled.set()

    server = await asyncio.start_server(accept_and_stay_silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    broker = RedisBroker(f"redis://127.0.0.1:{port}/0", start_timeout=0.5, listen=False)
    try:
        started = time.monotonic()
        with pytest.raises(RedisConnectionError, match="no answer"):
            await broker.start()
        assert time.monotonic() - started < 3
        await asyncio.wait_for(handled.wait(), 5)  # the broker closed its connection
    finally:
        server.close()
        await server.wait_closed()
