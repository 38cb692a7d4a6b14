"""Bookkeeping for catch-up plus live delivery: which message ids a subscription has yielded."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Protocol

from gateway.context import Context
from gateway.errors import ClientFacingError
from mychat.broker import BrokerSubscription, Resync
from mychat.events import Event

SEEN_WINDOW = 5000
# Past the window, this many of the smallest ids go at once (the floor rises to the largest).
SEEN_EVICTED = 500


class SeenIds:
    """Ids already yielded: everything up to `floor`, plus a bounded set of recent ids.

    A set rather than a high-water mark, because two senders' commits (and so their events)
    can arrive out of id order; bounded so long-lived subscriptions keep little. Built for many
    idle subscribers: no set until an id is added (a live-only subscription that has seen
    nothing holds none), and no second structure for the order: the smallest ids leave first.
    """

    __slots__ = ("_ids", "floor", "highest")

    def __init__(self, floor: int) -> None:
        self.floor = floor
        self.highest = floor
        self._ids: set[int] | None = None

    def __contains__(self, message_id: int) -> bool:
        return message_id <= self.floor or (self._ids is not None and message_id in self._ids)

    def add(self, message_id: int) -> None:
        ids = self._ids
        if ids is None:
            ids = self._ids = set()
        ids.add(message_id)
        if message_id > self.highest:
            self.highest = message_id
        if len(ids) > SEEN_WINDOW:
            evicted = heapq.nsmallest(SEEN_EVICTED, ids)
            ids.difference_update(evicted)
            self.floor = max(self.floor, evicted[-1])


class _ExpiryAlarm:
    """One timer per subscription (not one per event) that ends a wait when the token expires.

    It cancels a task only while that task waits for the broker inside `until_token_expires`;
    at any other moment it just marks the token expired, and the next wait raises instead.
    """

    __slots__ = ("cancelled", "expired", "waiting")

    def __init__(self) -> None:
        self.expired = False
        self.waiting: asyncio.Task[object] | None = None
        self.cancelled = False

    def fire(self) -> None:
        self.expired = True
        if self.waiting is not None:
            self.cancelled = True
            self.waiting.cancel()


class Parking(Protocol):
    """Told when the stream waits for the broker with its previous event handled (`parked`),
    so events can be delivered past it (gateway/direct_delivery.py); `written` is awaited
    before the stream goes on with the next event, so it does not overtake them."""

    parked: bool

    async def written(self) -> None: ...


async def until_token_expires(
    context: Context, subscription: BrokerSubscription, parking: Parking | None = None
) -> AsyncIterator[Event | Resync]:
    """The broker's events while the caller's token is valid; then a clear error ends it."""
    viewer = context.viewer
    if viewer is None:
        raise token_expired()
    alarm = _ExpiryAlarm()
    remaining = (viewer.expires_at - datetime.now(UTC)).total_seconds()
    timer = asyncio.get_running_loop().call_later(remaining, alarm.fire)
    events = aiter(subscription)
    try:
        while True:
            task = asyncio.current_task()
            if alarm.expired or context.viewer is None or task is None:
                raise token_expired()
            cancelling = task.cancelling()
            alarm.waiting = task
            if parking is not None:
                parking.parked = True
            try:
                item = await anext(events)
            except asyncio.CancelledError:
                # Ours (not a real cancellation): take it back and end with the error.
                if alarm.cancelled and task.uncancel() <= cancelling:
                    raise token_expired() from None
                raise
            except StopAsyncIteration:
                return
            finally:
                alarm.waiting = None
                if parking is not None:
                    parking.parked = False
            if parking is not None:
                await parking.written()
            yield item
    finally:
        timer.cancel()


def token_expired() -> ClientFacingError:
    return ClientFacingError("Your session expired; sign in again", "UNAUTHENTICATED")
