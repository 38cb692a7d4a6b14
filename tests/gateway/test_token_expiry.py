"""until_token_expires: events while the token is valid, then UNAUTHENTICATED; real cancels pass."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.catchup import until_token_expires
from gateway.context import Context, GatewayResources
from gateway.errors import ClientFacingError
from gateway.transport import HttpTransport
from mychat.broker import MemoryBroker
from mychat.events import Event, EventKind
from mychat.tokens import TokenCodec
from tests.support.env import TEST_JWT_SECRET


@pytest.fixture
async def broker() -> MemoryBroker:
    return MemoryBroker()


@pytest.fixture
async def resources(broker: MemoryBroker) -> AsyncIterator[GatewayResources]:
    codec = TokenCodec(TEST_JWT_SECRET, timedelta(hours=1))
    # Nothing here calls a service: transports to an unused address.
    auth_http = HttpTransport("http://127.0.0.1:9")
    chat_http = HttpTransport("http://127.0.0.1:9")
    try:
        yield GatewayResources(auth_http, chat_http, broker, codec)
    finally:
        await auth_http.aclose()
        await chat_http.aclose()


def signed_in(resources: GatewayResources, lifetime: timedelta) -> Context:
    token = TokenCodec(TEST_JWT_SECRET, lifetime).issue(user_id=1, login="alice", nickname="Al")
    context = Context(resources, "test")
    assert context.authenticate(token)
    return context


def event(number: int) -> Event:
    return Event(EventKind.MESSAGE_ADDED, 1, {"n": number})


async def test_events_flow_until_the_token_expires(
    resources: GatewayResources, broker: MemoryBroker
) -> None:
    context = signed_in(resources, timedelta(seconds=2))
    # Tokens carry whole seconds: expiry is at most 2 s away, and more than 1 s.
    expires_at = context.claims.expires_at if context.claims else datetime.now(UTC)
    received: list[object] = []
    async with broker.subscribe() as subscription:
        stream = until_token_expires(context, subscription)
        await broker.publish(event(1))
        received.append(await anext(stream))
        await broker.publish(event(2))
        received.append(await anext(stream))
        with pytest.raises(ClientFacingError) as ended:
            await asyncio.wait_for(anext(stream), timeout=5)
    assert [getattr(item, "payload", None) for item in received] == [{"n": 1}, {"n": 2}]
    assert ended.value.extensions == {"code": "UNAUTHENTICATED"}
    assert datetime.now(UTC) >= expires_at


async def test_expiry_while_the_consumer_is_busy_ends_at_the_next_wait(
    resources: GatewayResources, broker: MemoryBroker
) -> None:
    context = signed_in(resources, timedelta(seconds=1))
    async with broker.subscribe() as subscription:
        stream = until_token_expires(context, subscription)
        await broker.publish(event(1))
        assert await anext(stream) is not None
        await asyncio.sleep(1.2)  # the token expires while we are not waiting for events
        await broker.publish(event(2))
        with pytest.raises(ClientFacingError):
            await anext(stream)


async def test_a_real_cancellation_is_not_turned_into_expiry(
    resources: GatewayResources, broker: MemoryBroker
) -> None:
    context = signed_in(resources, timedelta(hours=1))
    async with broker.subscribe() as subscription:

        async def consume() -> object:
            return await anext(until_token_expires(context, subscription))

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_an_expired_token_ends_at_once(resources: GatewayResources) -> None:
    context = signed_in(resources, timedelta(seconds=1))
    await asyncio.sleep(1.1)
    async with resources.broker.subscribe() as subscription:
        with pytest.raises(ClientFacingError):
            await anext(until_token_expires(context, subscription))
