"""LocalSubscription on its own: bounded, RESYNC on overflow, None ends it, light when idle."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import AsyncIterator

import pytest

from mychat.broker import RESYNC, LocalSubscription, Resync
from mychat.events import Event, EventKind

TIMEOUT = 5.0


def event(message_id: int) -> Event:
    return Event(EventKind.MESSAGE_ADDED, 1, {"message": {"id": message_id}})


async def take(iterator: AsyncIterator[Event | Resync], count: int) -> list[Event | Resync]:
    async with asyncio.timeout(TIMEOUT):
        return [await anext(iterator) for _ in range(count)]


async def take_one(iterator: AsyncIterator[Event | Resync]) -> Event | Resync:
    return await anext(iterator)


async def test_events_offered_before_reading_come_in_order() -> None:
    subscription = LocalSubscription()
    for i in range(3):
        subscription.offer(event(i))
    assert len(subscription) == 3
    assert await take(aiter(subscription), 3) == [event(0), event(1), event(2)]
    assert len(subscription) == 0


async def test_a_waiting_reader_is_woken_by_each_offer() -> None:
    subscription = LocalSubscription()
    iterator = aiter(subscription)
    reading = asyncio.create_task(take(iterator, 2))
    await asyncio.sleep(0)  # the reader now waits
    subscription.offer(event(1))
    await asyncio.sleep(0)
    subscription.offer(event(2))
    assert await reading == [event(1), event(2)]


async def test_overflow_keeps_what_was_queued_then_resyncs_then_is_live_again() -> None:
    subscription = LocalSubscription(limit=3)
    for i in range(5):
        subscription.offer(event(i))
    assert subscription.overflowed
    assert len(subscription) == 3  # events 3 and 4 were dropped
    iterator = aiter(subscription)
    assert await take(iterator, 4) == [event(0), event(1), event(2), RESYNC]
    assert not subscription.overflowed
    subscription.offer(event(5))
    assert await take(iterator, 1) == [event(5)]


async def test_events_offered_while_overflowed_are_dropped() -> None:
    subscription = LocalSubscription(limit=1)
    subscription.offer(event(0))
    subscription.offer(event(1))  # overflows
    iterator = aiter(subscription)
    assert await take(iterator, 1) == [event(0)]
    subscription.offer(event(2))  # still overflowed: the reader has not had its RESYNC yet
    assert await take(iterator, 1) == [RESYNC]
    subscription.offer(event(3))
    assert await take(iterator, 1) == [event(3)]


async def test_none_ends_the_iteration_and_discards_what_was_queued() -> None:
    subscription = LocalSubscription(limit=2)
    for i in range(3):
        subscription.offer(event(i))  # overflowed, too: closing wins over the resync
    subscription.offer(None)
    async with asyncio.timeout(TIMEOUT):
        assert [item async for item in subscription] == []


async def test_none_ends_a_waiting_reader() -> None:
    subscription = LocalSubscription()
    received: list[Event | Resync] = []

    async def consume() -> None:
        async for item in subscription:
            received.append(item)

    consumer = asyncio.create_task(consume())
    subscription.offer(event(1))
    await asyncio.sleep(0.01)
    subscription.offer(None)
    async with asyncio.timeout(TIMEOUT):
        await consumer
    assert received == [event(1)]


async def test_a_cancelled_reader_leaves_the_subscription_usable() -> None:
    subscription = LocalSubscription()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await anext(aiter(subscription))
    subscription.offer(event(1))
    assert await take(aiter(subscription), 1) == [event(1)]


async def test_cancelling_one_of_two_readers_does_not_end_the_other() -> None:
    subscription = LocalSubscription()
    first = asyncio.create_task(take(aiter(subscription), 1))
    second = asyncio.create_task(take(aiter(subscription), 1))
    await asyncio.sleep(0.01)  # both wait on the shared waiter
    first.cancel()
    await asyncio.sleep(0.01)
    assert not second.done()
    subscription.offer(event(1))
    assert await second == [event(1)]
    assert first.cancelled()


async def test_an_idle_subscription_with_a_waiting_reader_is_small() -> None:
    # With an asyncio.Queue this was ~4.7 KB (the Queue alone ~3.3 KB), now ~1.4 KB.
    count = 500
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        subscriptions = [LocalSubscription() for _ in range(count)]
        iterators = [aiter(subscription) for subscription in subscriptions]
        readers = [asyncio.create_task(take_one(iterator)) for iterator in iterators]
        await asyncio.sleep(0)  # every reader waits
        # What the subscriptions hold while idle, not counting the readers' own tasks.
        idle = (tracemalloc.get_traced_memory()[0] - before) / count
        for i, subscription in enumerate(subscriptions):
            subscription.offer(event(i))
        assert [await reader for reader in readers] == [event(i) for i in range(count)]
    finally:
        tracemalloc.stop()
    assert all(len(subscription) == 0 for subscription in subscriptions)
    assert idle < 2000, f"{idle:.0f} bytes per idle subscription"  # ~4.7 KB with a Queue


async def test_interrupt_ends_a_waiting_reader_with_the_error() -> None:
    subscription = LocalSubscription()
    reader = asyncio.create_task(take_one(aiter(subscription)))
    await asyncio.sleep(0.01)
    subscription.interrupt(LookupError("expired"))
    with pytest.raises(LookupError, match="expired"):
        await reader


async def test_interrupt_wins_over_what_is_queued_and_stays() -> None:
    subscription = LocalSubscription()
    subscription.offer(event(1))
    subscription.interrupt(LookupError("expired"))
    for _ in range(2):  # every later read too
        with pytest.raises(LookupError):
            await take_one(aiter(subscription))


async def test_direct_is_offered_events_only_while_the_reader_waits() -> None:
    """Not while the reader handles an event it took (the direct path would overtake it), nor
    while events are queued: those are queued behind, in order."""
    subscription = LocalSubscription()
    taken: list[Event] = []

    def direct(offered: Event) -> bool:
        taken.append(offered)
        return True

    subscription.direct = direct
    subscription.offer(event(1))  # no reader yet: queued
    assert taken == []
    assert await take_one(aiter(subscription)) == event(1)
    subscription.offer(event(2))  # the reader handles event 1 (not waiting): queued
    assert taken == []
    reader = asyncio.create_task(take_one(aiter(subscription)))
    await asyncio.sleep(0.01)
    assert await reader == event(2)
    waiting = asyncio.create_task(take_one(aiter(subscription)))
    await asyncio.sleep(0.01)
    assert subscription.reader_waits()
    subscription.offer(event(3))  # the reader waits with nothing queued: taken directly
    assert taken == [event(3)]
    assert not waiting.done()
    waiting.cancel()
