"""Signed-out sessions: a set every process keeps in memory, kept current through the broker.

auth_service stores sessions and, after it commits a sign-out, publishes SESSIONS_REVOKED on
the broker (the accounts channel in Redis). Every process (each service and each gateway)
keeps the revoked session ids, each until the moment its token would have expired anyway, so
checking a token costs one dict lookup and no database round trip. A process loads the current
set when it starts and again after a broker RESYNC (a reconnect: events may have been lost while
it was away), from auth_service's table (the services) or its internal endpoint (gateways).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from mychat.background import cancelled, running
from mychat.broker.base import Broker, Resync
from mychat.events import Event, EventKind

log = logging.getLogger(__name__)

# What a loader answers: revoked session id -> when its token expires (Unix seconds).
RevokedMap = dict[str, float]
Loader = Callable[[], Awaitable[RevokedMap]]
Listener = Callable[[Collection[str]], None]
FIRST_RETRY_SECONDS = 0.1
RELOAD_RETRY_SECONDS = 2.0


class RevokedSessions:
    """Revoked session ids, each kept until its token expires; listeners hear of new ones."""

    def __init__(self) -> None:
        self._until: RevokedMap = {}
        self._listeners: list[Listener] = []
        self._next_prune = 0.0

    def __len__(self) -> int:
        return len(self._until)

    def is_revoked(self, session_id: str) -> bool:
        until = self._until.get(session_id)
        return until is not None and until > time.time()

    def add_listener(self, listener: Listener) -> None:
        """Called with the newly revoked ids (a gateway closes their WebSockets)."""
        self._listeners.append(listener)

    def revoke(self, revoked: Mapping[str, float]) -> None:
        now = time.time()
        fresh = [sid for sid, until in revoked.items() if until > now]
        for sid in fresh:
            self._until[sid] = max(revoked[sid], self._until.get(sid, 0.0))
        self._prune(now)
        self._tell(fresh)

    def _prune(self, now: float) -> None:
        if now < self._next_prune:
            return
        self._next_prune = now + 60.0
        self._until = {sid: until for sid, until in self._until.items() if until > now}

    def _tell(self, session_ids: Collection[str]) -> None:
        if not session_ids:
            return
        for listener in self._listeners:
            try:
                listener(session_ids)
            except Exception:  # one listener's failure must not stop revocation elsewhere
                log.exception("a revocation listener failed")


def revocation_event(user_id: int, revoked: Mapping[str, float]) -> Event:
    return Event(EventKind.SESSIONS_REVOKED, 0, {"user_id": user_id, "sessions": dict(revoked)})


def revoked_from_event(payload: Mapping[str, Any]) -> RevokedMap:
    sessions = payload.get("sessions")
    if not isinstance(sessions, dict):
        return {}
    return {
        str(sid): float(until)
        for sid, until in sessions.items()
        if isinstance(until, int | float) and not isinstance(until, bool)
    }


async def _load_until_it_works(revoked: RevokedSessions, load: Loader) -> None:
    # Soon at first (a process often starts a moment before auth_service answers), then calmer.
    delay = FIRST_RETRY_SECONDS
    while True:
        try:
            revoked.revoke(await load())  # added to what events brought meanwhile
            return
        except Exception:  # the source is down: keep what we know, try again shortly
            if _being_cancelled():  # a driver turned our cancellation into an error
                raise asyncio.CancelledError from None
            log.warning("could not load revoked sessions; retrying", exc_info=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RELOAD_RETRY_SECONDS)


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def follow_revocations(broker: Broker, revoked: RevokedSessions, load: Loader) -> None:
    """Listen first, then load (nothing falls in between); reload after every RESYNC.

    Events are applied as they come, also while a load is still being retried: a process that
    started before auth_service answered would otherwise accept a signed-out token until its
    load worked. A load only adds what it read (a revocation is never taken back, only
    forgotten once its token has expired), so an event newer than the load's read is kept."""
    async with broker.subscribe() as subscription:
        loading = asyncio.create_task(_load_until_it_works(revoked, load), name="revoked-load")
        try:
            async for item in subscription:
                if isinstance(item, Resync):  # a load under way may have read too early
                    await cancelled(loading)
                    loading = asyncio.create_task(
                        _load_until_it_works(revoked, load), name="revoked-load"
                    )
                elif item.kind == EventKind.SESSIONS_REVOKED:
                    revoked.revoke(revoked_from_event(item.payload))
        finally:
            await cancelled(loading)  # re-cancelled until it ends: a cancellation can be lost


def revocations_followed(
    broker: Broker, revoked: RevokedSessions, load: Loader
) -> AbstractAsyncContextManager[None]:
    """follow_revocations in a task for the life of the block (an app's lifespan)."""
    return running(follow_revocations(broker, revoked, load), "revocations")
