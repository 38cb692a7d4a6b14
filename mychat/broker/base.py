"""The small interface every broker implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from mychat.events import Event


class BrokerSubscription(Protocol):
    """An async iterator of every event published after the subscription started."""

    def __aiter__(self) -> AsyncIterator[Event]: ...


class Broker(Protocol):
    async def start(self) -> None:
        """Connect; called once by the owning lifespan."""

    async def close(self) -> None:
        """Disconnect and end every open subscription."""

    async def publish(self, event: Event) -> None:
        """Deliver an event to every current subscriber (in this process or all, by kind)."""

    def subscribe(self) -> AbstractAsyncContextManager[BrokerSubscription]:
        """Listen to all events from now on; leaving the context unsubscribes."""
