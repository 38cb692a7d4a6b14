"""Bookkeeping for catch-up plus live delivery: which message ids a subscription has yielded."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from gateway.context import Context
from gateway.errors import ClientFacingError
from mychat.broker import BrokerSubscription, Resync
from mychat.events import Event

SEEN_WINDOW = 5000


class SeenIds:
    """Ids already yielded: everything up to `floor`, plus a bounded window of recent ids.

    A set rather than a high-water mark, because two senders' commits (and so their events)
    can arrive out of id order; a window keeps memory bounded on long-lived subscriptions.
    """

    def __init__(self, floor: int) -> None:
        self.floor = floor
        self.highest = floor
        self._ids: set[int] = set()
        self._order: deque[int] = deque()

    def __contains__(self, message_id: int) -> bool:
        return message_id <= self.floor or message_id in self._ids

    def add(self, message_id: int) -> None:
        self._ids.add(message_id)
        self._order.append(message_id)
        self.highest = max(self.highest, message_id)
        if len(self._order) > SEEN_WINDOW:
            evicted = self._order.popleft()
            self._ids.discard(evicted)
            self.floor = max(self.floor, evicted)


async def until_token_expires(
    context: Context, subscription: BrokerSubscription
) -> AsyncIterator[Event | Resync]:
    """The broker's events while the caller's token is valid; then a clear error ends it."""
    events = aiter(subscription)
    while True:
        viewer = context.viewer
        if viewer is None:
            raise token_expired()
        remaining = (viewer.expires_at - datetime.now(UTC)).total_seconds()
        try:
            async with asyncio.timeout(remaining):
                item = await anext(events)
        except TimeoutError:
            raise token_expired() from None
        except StopAsyncIteration:
            return
        yield item


def token_expired() -> ClientFacingError:
    return ClientFacingError("Your session expired; sign in again", "UNAUTHENTICATED")
