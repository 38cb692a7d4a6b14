"""The small interface every broker implements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from mychat.events import Event


class Resync:
    """Yielded when events may have been missed (broker reconnect, slow consumer).

    The consumer re-reads what it needs from its cursor (for messages: the last id it yielded).
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "Resync()"


RESYNC = Resync()


@dataclass
class BrokerStats:
    """What a broker did in this process, for its metrics."""

    published: int = 0  # events this process published
    delivered: int = 0  # events handed to this process's subscriptions (once per subscription)
    reconnects: int = 0  # times the broker's connection came back after a loss


class BrokerSubscription(Protocol):
    """An async iterator of every event published after the subscription started.

    `direct`, when set, may take an event instead of the iterator (it returns True): it is
    offered the events that would be queued while the reader waits with none queued (see
    memory.LocalSubscription). `interrupt` ends the reader's wait, or its next read, with the
    consumer's own error."""

    direct: Callable[[Event], bool] | None

    def __aiter__(self) -> AsyncIterator[Event | Resync]: ...

    def interrupt(self, error: BaseException) -> None: ...


class Broker(Protocol):
    stats: BrokerStats

    @property
    def subscriptions(self) -> int:
        """Subscriptions open in this process now (each live GraphQL subscription holds one)."""

    async def start(self) -> None:
        """Connect; called once by the owning lifespan."""

    async def close(self) -> None:
        """Disconnect and end every open subscription."""

    async def check(self) -> None:
        """Raise unless the broker can deliver events now (for readiness probes)."""

    async def publish(self, event: Event) -> None:
        """Deliver an event to every current subscriber (in this process or all, by kind)."""

    async def publish_many(self, events: Sequence[Event]) -> None:
        """Publish events in order; as publish() does each, but at once where it can."""

    def subscribe(
        self, user_id: int | None = None
    ) -> AbstractAsyncContextManager[BrokerSubscription]:
        """Listen to events from now on: all of them, or (`user_id`) those addressed to that
        user or to nobody in particular (`Event.recipients` None); leaving unsubscribes."""
