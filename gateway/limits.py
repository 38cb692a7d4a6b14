"""Per-user and per-address limits of the gateway, checked before any work is done.

One account must not be able to slow everyone else down: it holds a bounded number of
WebSockets and subscriptions, spends a bounded rate of query cost (see gateway/cost.py), and
has a bounded number of service calls in flight at once, so one heavy request cannot take every
connection of the services' database pools. Sockets that have not authenticated yet are
counted per client address. All of it is per gateway process (nginx limits the edge as well).
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import TypeVar

from gateway.errors import ClientFacingError
from mychat.settings import Settings

# Close code for "too many" on a WebSocket, by analogy with HTTP 429 (as graphql-ws uses 4429).
CLOSE_TOO_MANY = 4429
COST_WINDOW_SECONDS = 60.0
Key = TypeVar("Key", int, str)


class LimitExceeded(ClientFacingError):
    """A limit refused this: a GraphQL error with `code` (and `retryAfter` seconds, if any)."""

    def __init__(self, message: str, code: str = "RATE_LIMITED", retry_after: float = 0) -> None:
        super().__init__(message, code)
        self.message = message
        if retry_after > 0:
            self.extensions["retryAfter"] = math.ceil(retry_after)


class _Bucket:
    """A token bucket: `capacity` units, refilled at capacity per window."""

    __slots__ = ("level", "updated")

    def __init__(self, level: float, updated: float) -> None:
        self.level = level
        self.updated = updated


@dataclass
class GatewayLimits:
    ws_per_user: int = 20
    ws_unauthenticated_per_address: int = 20
    subscriptions_per_user: int = 40
    max_service_calls: int = 50
    max_nodes: int = 10_000
    cost_per_minute: int = 3_000
    service_calls_per_user: int = 8
    _sockets: Counter[int] = field(default_factory=Counter)
    _unauthenticated: Counter[str] = field(default_factory=Counter)
    _subscriptions: Counter[int] = field(default_factory=Counter)
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    # One semaphore per user while any of their contexts holds it, then collected.
    _call_slots: weakref.WeakValueDictionary[str, asyncio.Semaphore] = field(
        default_factory=weakref.WeakValueDictionary
    )
    # Refusals so far, by code (read by the metrics): a limit that bites shows on a dashboard.
    refusals: Counter[str] = field(default_factory=Counter)

    def refuse(
        self, message: str, code: str = "RATE_LIMITED", retry_after: float = 0
    ) -> LimitExceeded:
        """The error to raise for a refusal, counted."""
        self.refusals[code] += 1
        return LimitExceeded(message, code, retry_after)

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayLimits:
        return cls(
            ws_per_user=settings.ws_per_user,
            ws_unauthenticated_per_address=settings.ws_unauthenticated_per_address,
            subscriptions_per_user=settings.subscriptions_per_user,
            max_service_calls=settings.graphql_max_service_calls,
            max_nodes=settings.graphql_max_nodes,
            cost_per_minute=settings.graphql_cost_per_minute,
            service_calls_per_user=settings.service_calls_per_user,
        )

    # WebSockets.

    def open_socket(self, address: str) -> SocketSlot:
        """A socket that has not authenticated yet, counted against its address."""
        if self._unauthenticated[address] >= self.ws_unauthenticated_per_address:
            raise self.refuse("Too many WebSocket connections from your address")
        self._unauthenticated[address] += 1
        return SocketSlot(self, address)

    # Subscriptions.

    def active_subscriptions(self) -> int:
        """Subscriptions running now, everyone's (for the metrics)."""
        return sum(self._subscriptions.values())

    def check_subscription(self, user_id: int) -> None:
        if self._subscriptions[user_id] >= self.subscriptions_per_user:
            raise self.refuse(
                f"At most {self.subscriptions_per_user} subscriptions per user at once",
                "TOO_MANY_SUBSCRIPTIONS",
            )

    def subscription(self, user_id: int) -> SubscriptionSlot:
        """Counts one live subscription of the user for as long as it runs (`with`)."""
        return SubscriptionSlot(self, user_id)

    # Query cost.

    def charge(self, key: str, cost: int) -> None:
        """Spend `cost` units of the caller's per-minute budget, or LimitExceeded."""
        if cost <= 0:
            return
        now = time.monotonic()
        capacity = float(self.cost_per_minute)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= 100_000:
                self._forget_full_buckets(now)
            bucket = self._buckets[key] = _Bucket(capacity, now)
        rate = capacity / COST_WINDOW_SECONDS
        bucket.level = min(capacity, bucket.level + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.level < cost:
            wait = (min(cost, capacity) - bucket.level) / rate
            raise self.refuse(
                f"Query cost budget spent ({self.cost_per_minute} per minute); "
                f"retry in {math.ceil(wait)} s",
                "RATE_LIMITED",
                retry_after=wait,
            )
        bucket.level -= cost

    def _forget_full_buckets(self, now: float) -> None:
        rate = self.cost_per_minute / COST_WINDOW_SECONDS
        for key in [
            k
            for k, bucket in self._buckets.items()
            if bucket.level + (now - bucket.updated) * rate >= self.cost_per_minute
        ]:
            del self._buckets[key]

    # Concurrent service calls.

    def call_slots(self, key: str) -> asyncio.Semaphore:
        """The semaphore bounding the caller's service calls in flight (shared by all of the
        caller's requests and sockets in this process)."""
        slots = self._call_slots.get(key)
        if slots is None:
            slots = asyncio.Semaphore(self.service_calls_per_user)
            self._call_slots[key] = slots
        return slots


def _decrement(counter: Counter[Key], key: Key) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]


class SubscriptionSlot:
    """One live subscription in its user's count, while its `with` block runs (an object, not
    a generator: no frame kept for the subscription's life)."""

    __slots__ = ("_limits", "_user_id")

    def __init__(self, limits: GatewayLimits, user_id: int) -> None:
        self._limits = limits
        self._user_id = user_id

    def __enter__(self) -> None:
        limits, user_id = self._limits, self._user_id
        limits.check_subscription(user_id)
        limits._subscriptions[user_id] += 1

    def __exit__(self, *exc_info: object) -> None:
        _decrement(self._limits._subscriptions, self._user_id)


class SocketSlot:
    """One WebSocket's place in the counts: its address until it authenticates, then its
    user's. Released once, when the socket ends."""

    __slots__ = ("_address", "_limits", "_user_id")

    def __init__(self, limits: GatewayLimits, address: str) -> None:
        self._limits = limits
        self._address: str | None = address
        self._user_id: int | None = None

    def authenticate(self, user_id: int) -> None:
        """Move the socket from its address's count to its user's, or LimitExceeded."""
        limits = self._limits
        if self._user_id == user_id:
            return
        if limits._sockets[user_id] >= limits.ws_per_user:
            raise limits.refuse(f"At most {limits.ws_per_user} WebSocket connections per user")
        self.release()
        limits._sockets[user_id] += 1
        self._user_id = user_id

    def release(self) -> None:
        limits = self._limits
        if self._address is not None:
            _decrement(limits._unauthenticated, self._address)
            self._address = None
        if self._user_id is not None:
            _decrement(limits._sockets, self._user_id)
            self._user_id = None
