"""In-process broker for the embedded mode and tests."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence

from mychat.broker.base import RESYNC, BrokerStats, Resync
from mychat.events import Event

# A subscriber this far behind loses its queue and is told to resync from its cursor.
QUEUE_LIMIT = 10_000


class LocalSubscription:
    """A bounded event queue for one local subscriber (used by the memory and Redis brokers),
    and the context manager that holds its place among the process's subscriptions.

    Built for many idle subscribers: the deque exists only while events wait (an empty one
    costs ~600 bytes), and a waiting reader holds one future, no asyncio.Queue (three deques,
    an Event and futures, ~2.6 KB). It is its own async iterator and context manager (no
    generator frames kept for the subscription's life). Past `limit` waiting events the
    subscription overflows: later events are dropped and the reader gets RESYNC once it has
    taken what was queued. None ends the iteration (and discards what was queued).

    `direct`, when set, is offered each event that would otherwise be queued while the reader
    waits with nothing queued (it has handled every event before): it returns True when it has
    delivered the event itself (nothing is queued, the reader is not woken), False to have it
    queued as usual. Events stay in order: once one is queued, the next ones queue behind it.

    `interrupt` ends the reader's wait, or its next read, with an error of the consumer's own
    (the gateway's: its caller's token expired), whatever is queued.
    """

    __slots__ = (
        "_ended",
        "_error",
        "_events",
        "_limit",
        "_owner",
        "_user_id",
        "_waiter",
        "direct",
        "overflowed",
    )

    def __init__(
        self,
        owner: Subscribers | None = None,
        user_id: int | None = None,
        limit: int = QUEUE_LIMIT,
    ) -> None:
        self._owner = owner  # joined on entering, left on exit (`async with`)
        self._user_id = user_id
        self._limit = limit
        self._events: deque[Event | Resync | None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._error: BaseException | None = None
        self.overflowed = False
        self.direct: Callable[[Event], bool] | None = None

    async def __aenter__(self) -> LocalSubscription:
        if self._owner is not None:
            self._owner.add(self, self._user_id)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._owner is not None:
            self._owner.discard(self, self._user_id)

    def __len__(self) -> int:
        """Events waiting to be read."""
        return len(self._events) if self._events is not None else 0

    def offer(self, event: Event | Resync | None) -> None:
        if event is None:
            self.overflowed = False  # closing wins over a pending resync
            self._events = None  # what was queued is discarded
        elif self.overflowed or (
            # Taken by the direct path (only while the reader waits for it: in order).
            self.direct is not None
            and self.reader_waits()
            and isinstance(event, Event)
            and self.direct(event)
        ):
            return
        events = self._events
        if events is None:
            events = self._events = deque()
        elif len(events) >= self._limit:
            self.overflowed = True
            return
        events.append(event)
        self._wake()

    def interrupt(self, error: BaseException) -> None:
        self._error = error
        self._wake()

    def reader_waits(self) -> bool:
        """A reader waits for the next event, nothing queued (it has handled the ones before)."""
        waiter = self._waiter
        return waiter is not None and not waiter.done() and not self._events

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> LocalSubscription:
        return self

    async def __anext__(self) -> Event | Resync:
        """The next event, waiting for it here (one frame per idle reader, not two). Readers
        of one subscription share the waiter; one reader's cancellation (which cancels the
        shared future) sends the others back to wait."""
        while True:
            if self._error is not None:
                raise self._error
            if self._ended:
                raise StopAsyncIteration
            events = self._events
            if events:
                event = events.popleft()
                if not events:
                    self._events = None  # idle again: no deque held
                if event is None:
                    self._ended = True
                    continue
                return event
            if self.overflowed:
                self.overflowed = False
                return RESYNC
            waiter = self._waiter
            if waiter is None or waiter.done():
                waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is None or task.cancelling():
                    raise
            finally:
                if self._waiter is waiter and waiter.done():
                    self._waiter = None


class Subscribers:
    """A process's subscriptions, with those of one user found by user id.

    An event addressed to its recipients (`Event.recipients`) is offered to the subscriptions
    of those users and to those that listen to everything, not to every subscription: a read
    receipt for one member wakes that member's subscriptions only, not every subscriber of the
    gateway (with n viewers marking read, n x n wake-ups that each found nothing to do).
    Events without recipients (presence, typing, accounts) reach every subscription.
    """

    def __init__(self, stats: BrokerStats) -> None:
        self._stats = stats
        self._everything: set[LocalSubscription] = set()
        self._by_user: dict[int, set[LocalSubscription]] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, subscription: LocalSubscription, user_id: int | None) -> None:
        if user_id is None:
            self._everything.add(subscription)
        else:
            self._by_user.setdefault(user_id, set()).add(subscription)
        self._count += 1

    def discard(self, subscription: LocalSubscription, user_id: int | None) -> None:
        if user_id is None:
            if subscription not in self._everything:
                return
            self._everything.discard(subscription)
        else:
            mine = self._by_user.get(user_id)
            if mine is None or subscription not in mine:
                return
            mine.discard(subscription)
            if not mine:
                del self._by_user[user_id]
        self._count -= 1

    def all(self) -> list[LocalSubscription]:
        every = list(self._everything)
        for mine in self._by_user.values():
            every.extend(mine)
        return every

    def offer(self, item: Event | Resync | None) -> None:
        """To the subscriptions it is for (everyone for RESYNC, None and unaddressed events)."""
        if not isinstance(item, Event) or item.recipients is None:
            targets = self.all()
        else:
            recipients, by_user = item.recipients, self._by_user
            targets = list(self._everything)
            # Whichever is smaller: the event's recipients, or the users subscribed here.
            if len(recipients) < len(by_user):
                for user_id in recipients:
                    mine = by_user.get(user_id)
                    if mine is not None:
                        targets.extend(mine)
            else:
                for user_id, mine in by_user.items():
                    if user_id in recipients:
                        targets.extend(mine)
        if isinstance(item, Event):
            self._stats.delivered += len(targets)
        for subscription in targets:
            subscription.offer(item)


class MemoryBroker:
    def __init__(self) -> None:
        self.stats = BrokerStats()
        self._subscriptions = Subscribers(self.stats)

    async def start(self) -> None:
        return None

    async def check(self) -> None:
        return None  # in-process delivery cannot be down

    async def close(self) -> None:
        self._subscriptions.offer(None)

    async def publish(self, event: Event) -> None:
        self.stats.published += 1
        self._subscriptions.offer(event)

    async def publish_many(self, events: Sequence[Event]) -> None:
        for event in events:
            await self.publish(event)

    @property
    def subscriptions(self) -> int:
        return len(self._subscriptions)

    def subscribe(self, user_id: int | None = None) -> LocalSubscription:
        return LocalSubscription(self._subscriptions, user_id)
