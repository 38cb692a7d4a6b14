"""In-process broker for the embedded mode and tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mychat.broker.base import RESYNC, Resync
from mychat.events import Event

# A subscriber this far behind loses its queue and is told to resync from its cursor.
QUEUE_LIMIT = 10_000


class LocalSubscription:
    """A bounded event queue for one local subscriber (used by the memory and Redis brokers)."""

    def __init__(self, limit: int = QUEUE_LIMIT) -> None:
        self.queue: asyncio.Queue[Event | Resync | None] = asyncio.Queue(limit)
        self.overflowed = False

    def offer(self, event: Event | Resync | None) -> None:
        if event is None:
            self.overflowed = False  # closing wins over a pending resync
            self._drain()
        elif self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    def _drain(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()

    async def __aiter__(self) -> AsyncIterator[Event | Resync]:
        while True:
            if self.overflowed and self.queue.empty():
                self.overflowed = False
                yield RESYNC
                continue
            event = await self.queue.get()
            if event is None:
                return
            yield event


class MemoryBroker:
    def __init__(self) -> None:
        self._subscriptions: set[LocalSubscription] = set()

    async def start(self) -> None:
        return None

    async def check(self) -> None:
        return None  # in-process delivery cannot be down

    async def close(self) -> None:
        for subscription in self._subscriptions:
            subscription.offer(None)

    async def publish(self, event: Event) -> None:
        for subscription in tuple(self._subscriptions):
            subscription.offer(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[LocalSubscription]:
        subscription = LocalSubscription()
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)
