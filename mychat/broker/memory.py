"""In-process broker for the embedded mode and tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mychat.events import Event

# A subscriber this far behind is cut off; it reconnects and catches up from its cursor.
QUEUE_LIMIT = 10_000


class SubscriberOverflow(Exception):
    """The subscriber fell too far behind and lost its place."""


class _Subscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = False

    def offer(self, event: Event | None) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            if self.overflowed:
                raise SubscriberOverflow
            event = await self.queue.get()
            if event is None:
                return
            yield event


class MemoryBroker:
    def __init__(self) -> None:
        self._subscriptions: set[_Subscription] = set()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for subscription in self._subscriptions:
            subscription.offer(None)

    async def publish(self, event: Event) -> None:
        for subscription in tuple(self._subscriptions):
            subscription.offer(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[_Subscription]:
        subscription = _Subscription()
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)
