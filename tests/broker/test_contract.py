"""The contract every broker keeps, run against the in-memory and the Redis implementation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from mychat.broker import RESYNC, LocalSubscription, MemoryBroker, Resync
from mychat.broker.memory import QUEUE_LIMIT
from mychat.broker.redis import RedisBroker
from mychat.events import Event, EventKind

AnyBroker = MemoryBroker | RedisBroker
TIMEOUT = 5.0


def message_event(message_id: int, chat_id: int = 1) -> Event:
    return Event(
        EventKind.MESSAGE_ADDED, chat_id, {"message": {"id": message_id, "text": f"m{message_id}"}}
    )


async def take(subscription: LocalSubscription, count: int) -> list[Event | Resync]:
    """The next `count` items of a subscription, failing the test if they do not come."""
    items: list[Event | Resync] = []
    iterator: AsyncIterator[Event | Resync] = aiter(subscription)
    async with asyncio.timeout(TIMEOUT):
        while len(items) < count:
            items.append(await anext(iterator))
    return items


async def test_every_subscriber_receives_each_event(broker: AnyBroker) -> None:
    async with broker.subscribe() as first, broker.subscribe() as second:
        event = message_event(1)
        await broker.publish(event)
        assert await take(first, 1) == [event]
        assert await take(second, 1) == [event]


async def test_events_arrive_in_publish_order(broker: AnyBroker) -> None:
    events = [message_event(i) for i in range(200)]
    async with broker.subscribe() as subscription:
        for event in events:
            await broker.publish(event)
        assert await take(subscription, len(events)) == events


async def test_events_round_trip_every_kind(broker: AnyBroker) -> None:
    events = [
        Event(
            EventKind.CHAT_CREATED, 7, {"chat": {"id": 7, "name": "Ünïcode ✓"}, "member_ids": [1]}
        ),
        Event(EventKind.MEMBER_ADDED, 7, {"user": {"id": 2, "nickname": "bob"}, "added_by": 1}),
        Event(EventKind.MEMBER_LEFT, 7, {"user": {"id": 2, "nickname": "bob"}}),
    ]
    async with broker.subscribe() as subscription:
        for event in events:
            await broker.publish(event)
        assert await take(subscription, 3) == events


async def test_leaving_the_context_unsubscribes(broker: AnyBroker) -> None:
    async with broker.subscribe() as left:
        pass
    async with broker.subscribe() as witness:
        await broker.publish(message_event(1))
        await take(witness, 1)  # the event went through the broker...
    assert len(left) == 0  # ...and never reached the subscription that left


async def test_close_ends_every_iteration(broker: AnyBroker) -> None:
    async with broker.subscribe() as subscription:
        received: list[Event | Resync] = []

        async def consume() -> None:
            async for item in subscription:
                received.append(item)

        consumer = asyncio.create_task(consume())
        await broker.publish(message_event(1))
        async with asyncio.timeout(TIMEOUT):
            while not received:
                await asyncio.sleep(0.01)
        await broker.close()
        async with asyncio.timeout(TIMEOUT):
            await consumer  # ends instead of waiting forever
        assert received == [message_event(1)]


async def test_a_subscriber_that_falls_behind_gets_resync(broker: AnyBroker) -> None:
    async with broker.subscribe() as slow:
        for i in range(QUEUE_LIMIT + 5):
            await broker.publish(message_event(i))
        async with asyncio.timeout(TIMEOUT):  # Redis delivers asynchronously
            while not slow.overflowed:
                await asyncio.sleep(0.01)
        items = await take(slow, QUEUE_LIMIT + 1)
        assert items[:QUEUE_LIMIT] == [message_event(i) for i in range(QUEUE_LIMIT)]
        assert items[QUEUE_LIMIT] is RESYNC
        # After the resync it is live again (Redis may still hand over a few late ones first).
        await broker.publish(message_event(-1))
        late_ones = [message_event(i) for i in range(QUEUE_LIMIT, QUEUE_LIMIT + 5)]
        while (item := (await take(slow, 1))[0]) != message_event(-1):
            assert item in late_ones


async def test_publish_many_delivers_in_order(broker: AnyBroker) -> None:
    async with broker.subscribe() as subscription:
        await broker.publish_many([message_event(n) for n in range(1, 6)])
        await broker.publish_many([])
        await broker.publish(message_event(6))
        assert await take(subscription, 6) == [message_event(n) for n in range(1, 7)]


async def test_a_user_s_subscription_gets_what_is_addressed_to_them_or_to_nobody(
    broker: AnyBroker,
) -> None:
    to_alice = Event(EventKind.MESSAGES_READ, 3, {"n": 1}, recipients=frozenset({1, 5}))
    to_bob = Event(EventKind.MESSAGES_READ, 3, {"n": 2}, recipients=frozenset({2}))
    to_anyone = Event(EventKind.TYPING, 3, {"n": 3})  # no recipients: every subscription
    async with (
        broker.subscribe(1) as alice,
        broker.subscribe(2) as bob,
        broker.subscribe() as everything,
    ):
        assert broker.subscriptions == 3
        for event in (to_alice, to_bob, to_anyone):
            await broker.publish(event)
        assert await take(everything, 3) == [to_alice, to_bob, to_anyone]
        assert await take(alice, 2) == [to_alice, to_anyone]
        assert await take(bob, 2) == [to_bob, to_anyone]
        assert len(alice) == len(bob) == 0  # nothing else was offered to them
    assert broker.subscriptions == 0
