"""Subscriptions ended when their caller's token expires: one timer per second, not per socket.

A subscription lives as long as its caller's token (the claims' `exp`); when it expires the
subscription ends with UNAUTHENTICATED, also while it waits for events that may never come.
A timer per subscription (an asyncio TimerHandle with its callback and context, ~500 bytes)
was one of the larger things an idle subscription held. Tokens carry whole seconds, so the
subscriptions due in the same second share one timer here; when it fires, each is interrupted
(`BrokerSubscription.interrupt`): its waiting read, or its next one, raises the error.
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import datetime

from gateway.errors import ClientFacingError
from mychat.broker import BrokerSubscription


def token_expired() -> ClientFacingError:
    return ClientFacingError("Your session expired; sign in again", "UNAUTHENTICATED")


class TokenExpiries:
    """The subscriptions to interrupt, by the second their token expires (see the module)."""

    def __init__(self) -> None:
        self._due: dict[int, tuple[set[BrokerSubscription], asyncio.TimerHandle]] = {}

    def __len__(self) -> int:
        """Seconds with subscriptions due (a timer each)."""
        return len(self._due)

    def watching(self, expires_at: datetime, subscription: BrokerSubscription) -> Watching:
        """Interrupt the subscription when the token expires, until the block is left."""
        return Watching(self, math.ceil(expires_at.timestamp()), subscription)

    def watch(self, second: int, subscription: BrokerSubscription) -> None:
        due = self._due.get(second)
        if due is None:
            delay = max(0.0, second - time.time())
            timer = asyncio.get_running_loop().call_later(delay, self._expire, second)
            due = self._due[second] = (set(), timer)
        due[0].add(subscription)

    def forget(self, second: int, subscription: BrokerSubscription) -> None:
        due = self._due.get(second)
        if due is None:
            return
        subscriptions, timer = due
        subscriptions.discard(subscription)
        if not subscriptions:
            del self._due[second]
            timer.cancel()

    def _expire(self, second: int) -> None:
        due = self._due.pop(second, None)
        for subscription in due[0] if due is not None else ():
            subscription.interrupt(token_expired())


class Watching:
    """A subscription watched for its token's expiry (a block around its reads)."""

    __slots__ = ("expiries", "second", "subscription")

    def __init__(
        self, expiries: TokenExpiries, second: int, subscription: BrokerSubscription
    ) -> None:
        self.expiries = expiries
        self.second = second
        self.subscription = subscription

    def __enter__(self) -> None:
        self.expiries.watch(self.second, self.subscription)

    def __exit__(self, *exc_info: object) -> None:
        self.expiries.forget(self.second, self.subscription)
