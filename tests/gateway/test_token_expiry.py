"""TokenExpiries: a subscription's reads end UNAUTHENTICATED when its caller's token expires
(waiting or not), one shared timer per second; leaving the block forgets it; real cancels pass."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from gateway.errors import ClientFacingError
from gateway.expiries import TokenExpiries
from mychat.broker import MemoryBroker
from mychat.events import Event, EventKind


def event(number: int) -> Event:
    return Event(EventKind.MESSAGE_ADDED, 1, {"n": number})


def in_seconds(seconds: int) -> datetime:
    """An expiry as tokens carry it: a whole second."""
    return datetime.fromtimestamp(int(datetime.now(UTC).timestamp()) + seconds, UTC)


async def test_events_flow_until_the_token_expires() -> None:
    broker, expiries = MemoryBroker(), TokenExpiries()
    expires_at = in_seconds(2)
    received: list[object] = []
    async with broker.subscribe() as subscription:
        with expiries.watching(expires_at, subscription):
            events = aiter(subscription)
            await broker.publish(event(1))
            received.append(await anext(events))
            await broker.publish(event(2))
            received.append(await anext(events))
            with pytest.raises(ClientFacingError) as ended:
                await asyncio.wait_for(anext(events), timeout=5)
    assert [getattr(item, "payload", None) for item in received] == [{"n": 1}, {"n": 2}]
    assert ended.value.extensions == {"code": "UNAUTHENTICATED"}
    assert datetime.now(UTC) >= expires_at


async def test_expiry_while_the_consumer_is_busy_ends_at_the_next_read() -> None:
    broker, expiries = MemoryBroker(), TokenExpiries()
    async with broker.subscribe() as subscription:
        with expiries.watching(in_seconds(1), subscription):
            events = aiter(subscription)
            await broker.publish(event(1))
            assert await anext(events) is not None
            await asyncio.sleep(1.2)  # the token expires while we are not waiting for events
            await broker.publish(event(2))
            with pytest.raises(ClientFacingError):
                await anext(events)


async def test_subscriptions_due_in_one_second_all_end() -> None:
    broker, expiries = MemoryBroker(), TokenExpiries()
    expires_at = in_seconds(1)
    async with broker.subscribe() as first, broker.subscribe() as second:
        with expiries.watching(expires_at, first), expiries.watching(expires_at, second):
            readers = [asyncio.create_task(anext(aiter(s))) for s in (first, second)]
            done, _ = await asyncio.wait(readers, timeout=5)
    assert len(done) == 2
    assert all(isinstance(reader.exception(), ClientFacingError) for reader in readers)


async def test_a_subscription_left_is_not_interrupted() -> None:
    """Leaving the block forgets it: the timer of its second does not reach it (a subscription
    still watched in the same second keeps the timer going)."""
    broker, expiries = MemoryBroker(), TokenExpiries()
    expires_at = in_seconds(1)
    async with broker.subscribe() as left, broker.subscribe() as watched:
        with expiries.watching(expires_at, watched):
            with expiries.watching(expires_at, left):
                pass
            with pytest.raises(ClientFacingError):
                await asyncio.wait_for(anext(aiter(watched)), timeout=5)
        await broker.publish(event(1))
        assert await asyncio.wait_for(anext(aiter(left)), timeout=5) == event(1)


async def test_a_real_cancellation_is_not_turned_into_expiry() -> None:
    broker, expiries = MemoryBroker(), TokenExpiries()
    async with broker.subscribe() as subscription:
        with expiries.watching(in_seconds(3600), subscription):
            task = asyncio.create_task(anext(aiter(subscription)))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


async def test_an_expired_token_ends_at_once() -> None:
    broker, expiries = MemoryBroker(), TokenExpiries()
    async with broker.subscribe() as subscription:
        with (
            expiries.watching(in_seconds(-1), subscription),
            pytest.raises(ClientFacingError),
        ):
            await asyncio.wait_for(anext(aiter(subscription)), timeout=1)


async def test_one_timer_per_second_and_none_once_left() -> None:
    broker, expiries = MemoryBroker(), TokenExpiries()
    async with broker.subscribe() as first, broker.subscribe() as second:
        with expiries.watching(in_seconds(600), first):
            with expiries.watching(in_seconds(600), second):
                assert len(expiries) == 1
            assert len(expiries) == 1
            with expiries.watching(in_seconds(700), second):
                assert len(expiries) == 2
        assert len(expiries) == 0
