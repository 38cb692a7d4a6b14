"""Presence: a user is online while any of their WebSockets is open on any gateway.

Each gateway counts its own connections per user and keeps a shared record alive with a
heartbeat (`PresenceStore`: Redis across gateways, memory when embedded). Every entry expires:
a gateway that dies stops renewing its own, and any other gateway's sweep then finds the user
gone and announces it, so a killed gateway's users go offline within `ttl` plus one sweep.

Changes travel in PRESENCE_CHANGED events, each a batch of the changes a gateway saw within
`BATCH_SECONDS`, every change carrying the user's chat ids; a `chatEvents` subscription yields
a change only to members of a chat it names (nobody else learns it). Batches keep a burst of
arrivals linear: n members coming online cost each subscriber a frame per batch (with
`presenceBatches: true`), not one per member, and each gateway a broker event per batch, not
n events that each wake every subscription. A user whose last connection closes goes offline
after a short grace (a reload is not a departure).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from gateway.background import BackgroundTasks
from gateway.clients import ChatClient, ServiceError, ServiceUnavailable
from gateway.connections import ConnectionWatcher
from mychat.broker import Broker, BrokerSubscription
from mychat.events import Event, EventKind
from mychat.settings import Settings
from mychat.tokens import TokenClaims

log = logging.getLogger(__name__)

# After the last connection closes, this long before the user is announced offline.
OFFLINE_GRACE_SECONDS = 3.0
# Changes are published together once this long has passed since the first of a batch.
BATCH_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class Seen:
    """What the store knows of one user."""

    online: bool
    last_seen_at: datetime | None


@dataclass(frozen=True, slots=True)
class Gone:
    """A user whose every gateway stopped renewing them (found by a sweep)."""

    user_id: int
    nickname: str
    chat_ids: list[int]
    last_seen_at: datetime


class PresenceStore(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def renew(self, users: dict[int, tuple[str, list[int]]]) -> list[int]:
        """This gateway holds these users (nickname, chat ids): renew their entries; answer
        the ids that were offline until now."""

    async def release(self, user_id: int) -> datetime | None:
        """This gateway holds the user no more: the last-seen time if that made them offline."""

    async def sweep(self) -> list[Gone]:
        """Users whose every entry expired (a gateway died): now offline, each reported once."""

    async def lookup(self, user_ids: list[int]) -> dict[int, Seen]: ...


def create_presence_store(settings: Settings) -> PresenceStore:
    """Redis when REDIS_URL is set (several gateways), else this process's memory."""
    if settings.redis_url:
        # Imported here, as the broker's: only needed when Redis is configured.
        from gateway.presence_redis import RedisPresenceStore

        return RedisPresenceStore(settings.redis_url, settings.presence_ttl_seconds)
    return MemoryPresenceStore(settings.presence_ttl_seconds)


def now_seconds() -> float:
    return datetime.now(UTC).timestamp()


class MemoryPresenceStore:
    """The embedded mode's store: the same bookkeeping as Redis, in this process."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._expiry: dict[int, float] = {}
        self._info: dict[int, tuple[str, list[int]]] = {}
        self._last_seen: dict[int, float] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def renew(self, users: dict[int, tuple[str, list[int]]]) -> list[int]:
        now = now_seconds()
        arrived = [user_id for user_id in users if self._expiry.get(user_id, 0.0) <= now]
        for user_id, info in users.items():
            self._expiry[user_id] = now + self._ttl
            self._info[user_id] = info
        return arrived

    async def release(self, user_id: int) -> datetime | None:
        if self._expiry.pop(user_id, None) is None:
            return None
        self._info.pop(user_id, None)
        now = now_seconds()
        self._last_seen[user_id] = now
        return datetime.fromtimestamp(now, UTC)

    async def sweep(self) -> list[Gone]:
        now = now_seconds()
        gone = []
        for user_id, expiry in list(self._expiry.items()):
            if expiry <= now:
                del self._expiry[user_id]
                nickname, chat_ids = self._info.pop(user_id, ("", []))
                self._last_seen[user_id] = expiry - self._ttl
                seen = datetime.fromtimestamp(expiry - self._ttl, UTC)
                gone.append(Gone(user_id, nickname, chat_ids, seen))
        return gone

    async def lookup(self, user_ids: list[int]) -> dict[int, Seen]:
        now = now_seconds()
        return {
            user_id: Seen(
                self._expiry.get(user_id, 0.0) > now,
                _from_seconds(self._last_seen.get(user_id)),
            )
            for user_id in user_ids
        }


def _from_seconds(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


@dataclass
class _LocalUser:
    nickname: str
    token: str
    connections: int = 0
    chat_ids: set[int] = field(default_factory=set)
    offline_timer: asyncio.TimerHandle | None = None


def presence_change(
    user_id: int, nickname: str, chat_ids: Iterable[int], online: bool, seen: datetime | None
) -> dict[str, Any]:
    """One user's change, as a batch carries it (mychat/events.py)."""
    return {
        "user": {"id": user_id, "nickname": nickname},
        "online": online,
        "last_seen_at": None if seen is None else seen.isoformat(),
        "chat_ids": sorted(chat_ids),
    }


def presence_event(changes: list[dict[str, Any]]) -> Event:
    return Event(EventKind.PRESENCE_CHANGED, 0, {"changes": changes})


class Presence(ConnectionWatcher):
    """This gateway's side: connection counts per user, heartbeat and sweep, announcements."""

    def __init__(
        self,
        store: PresenceStore,
        broker: Broker,
        chat_client: Callable[[str], ChatClient],
        ttl: float,
    ) -> None:
        self.store = store
        self._broker = broker
        self._chat_client = chat_client
        self._interval = ttl / 3
        self._local: dict[int, _LocalUser] = {}
        self._background = BackgroundTasks()
        self._pending: list[dict[str, Any]] = []  # changes of the batch being gathered

    # Connections (called synchronously by the WebSocket bookkeeping).

    def connected(self, claims: TokenClaims, token: str) -> None:
        local = self._local.get(claims.user_id)
        if local is None:
            local = self._local[claims.user_id] = _LocalUser(claims.nickname, token)
            self._background.start(self._arrive(claims.user_id, local))
        local.connections += 1
        if local.offline_timer is not None:  # back within the grace: never went offline
            local.offline_timer.cancel()
            local.offline_timer = None

    def disconnected(self, claims: TokenClaims) -> None:
        local = self._local.get(claims.user_id)
        if local is None:
            return
        local.connections -= 1
        if local.connections <= 0 and local.offline_timer is None:
            local.offline_timer = asyncio.get_running_loop().call_later(
                OFFLINE_GRACE_SECONDS, self._spawn_leave, claims.user_id
            )

    def _spawn_leave(self, user_id: int) -> None:
        local = self._local.get(user_id)
        if local is None or local.connections > 0:
            return
        del self._local[user_id]
        self._background.start(self._leave(user_id, local))

    async def _arrive(self, user_id: int, local: _LocalUser) -> None:
        try:
            local.chat_ids = set(await self._chat_client(local.token).chat_ids())
        except (ServiceError, ServiceUnavailable) as error:
            log.info("presence: no chat list for user %d: %s", user_id, error)
        await self._renew({user_id: local})

    async def _leave(self, user_id: int, local: _LocalUser) -> None:
        try:
            seen = await self.store.release(user_id)
        except Exception:  # the store is away: the entry expires and a sweep reports it
            log.warning("presence: could not release user %d", user_id, exc_info=True)
            return
        if seen is not None:
            self._announce(presence_change(user_id, local.nickname, local.chat_ids, False, seen))

    async def _renew(self, users: dict[int, _LocalUser]) -> None:
        if not users:
            return
        info = {uid: (local.nickname, sorted(local.chat_ids)) for uid, local in users.items()}
        try:
            arrived = await self.store.renew(info)
        except Exception:  # the store is away: the next heartbeat tries again
            log.warning("presence: could not renew %d users", len(info), exc_info=True)
            return
        for user_id in arrived:
            nickname, chat_ids = info[user_id]
            self._announce(presence_change(user_id, nickname, chat_ids, True, None))

    def _announce(self, change: dict[str, Any]) -> None:
        """Add a change to the batch; the first of a batch schedules its publication."""
        if not self._pending:
            self._background.start(self._publish_later())
        self._pending.append(change)

    async def _publish_later(self) -> None:
        await asyncio.sleep(BATCH_SECONDS)
        await self._publish_pending()

    async def _publish_pending(self) -> None:
        changes, self._pending = self._pending, []
        if not changes:
            return
        try:
            await self._broker.publish(presence_event(changes))
        except Exception:  # a lost announcement: members see the change on their next query
            log.warning("presence: could not publish %d changes", len(changes), exc_info=True)

    # The chats of local users follow membership events (their announcements name them).

    def chat_event(self, event: Event) -> None:
        payload = event.payload
        if event.kind == EventKind.CHAT_CREATED:
            for user_id in payload.get("member_ids", ()):
                local = self._local.get(user_id)
                if local is not None:
                    local.chat_ids.add(event.chat_id)
        elif event.kind in (EventKind.MEMBER_ADDED, EventKind.MEMBER_LEFT):
            local = self._local.get(payload["user"]["id"])
            if local is not None:
                if event.kind == EventKind.MEMBER_ADDED:
                    local.chat_ids.add(event.chat_id)
                else:
                    local.chat_ids.discard(event.chat_id)

    # The life of the process.

    async def run(self) -> None:
        """Heartbeat and sweep until cancelled; follows membership events meanwhile."""
        async with self._broker.subscribe() as subscription:
            follower = asyncio.ensure_future(self._follow(subscription))
            try:
                while True:
                    await asyncio.sleep(self._interval)
                    await self._renew(dict(self._local))
                    await self._sweep()
            finally:
                follower.cancel()
                await asyncio.gather(follower, return_exceptions=True)

    async def _follow(self, subscription: BrokerSubscription) -> None:
        async for item in subscription:
            if isinstance(item, Event):
                self.chat_event(item)

    async def _sweep(self) -> None:
        try:
            gone = await self.store.sweep()
        except Exception:
            log.warning("presence: sweep failed", exc_info=True)
            return
        for user in gone:
            if user.user_id in self._local:  # ours and alive: renewed at the next beat
                continue
            self._announce(
                presence_change(
                    user.user_id, user.nickname, user.chat_ids, False, user.last_seen_at
                )
            )

    async def aclose(self) -> None:
        """Release everyone this gateway holds (a clean shutdown is a departure)."""
        for local in self._local.values():
            if local.offline_timer is not None:
                local.offline_timer.cancel()
        users, self._local = self._local, {}
        for user_id, local in users.items():
            await self._leave(user_id, local)
        await self._publish_pending()  # now, not after the batch's wait
        await self._background.drain()
