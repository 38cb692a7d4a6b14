"""Redis pub/sub broker: events reach every gateway process, over one connection per process."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mychat.broker.base import RESYNC, BrokerStats, Resync
from mychat.broker.memory import LocalSubscription, Subscribers
from mychat.events import Event

logger = logging.getLogger(__name__)

CHANNEL = "mychat:events"
# Account events (sessions revoked, accounts deleted) go to CHANNEL + this suffix: every
# process reads them, while only gateways read the busy events channel.
ACCOUNTS_SUFFIX = ":accounts"
# Errors after which the connection is gone and must be rebuilt.
CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
RECONNECT_BACKOFF_START = 0.05
RECONNECT_BACKOFF_CAP = 2.0
PUBLISH_ATTEMPTS = 5
PUBLISH_BACKOFF_START = 0.05
START_TIMEOUT = 5.0
# After this long without a word from Redis the listener PINGs; after as long again without an
# answer the connection is taken for dead (a half-open socket never reports an error itself).
HEARTBEAT_SECONDS = 15.0
# A command (PUBLISH, PING) or a connect that takes longer has met a dead connection.
SOCKET_TIMEOUT = 2.0


class BrokerClosed(RuntimeError):
    """The broker is closed; nothing can be published any more."""


class RedisBroker:
    """Events on one Redis channel; one reader task fans them out to local subscriptions.

    However many subscriptions a process has, it holds a single pub/sub connection (plus a small
    pool for publishing). When that connection drops (Redis restart, CLIENT KILL, network),
    the reader reconnects with backoff and offers RESYNC to every local subscription, because
    events published while it was away are lost for good.

    listen=False makes a broker that only publishes: no pub/sub connection; subscribe() refuses.
    accounts_only=True listens to the accounts channel alone (services: they must hear of
    signed-out sessions, but must not read back and parse every chat event they send).
    """

    def __init__(
        self,
        url: str,
        *,
        channel: str = CHANNEL,
        start_timeout: float = START_TIMEOUT,
        heartbeat: float = HEARTBEAT_SECONDS,
        listen: bool = True,
        accounts_only: bool = False,
    ) -> None:
        self._url = url
        self._listen = listen
        self._channel = channel
        self._accounts_channel = channel + ACCOUNTS_SUFFIX
        self._channels = (
            (self._accounts_channel,) if accounts_only else (channel, self._accounts_channel)
        )
        self._start_timeout = start_timeout
        self._heartbeat = heartbeat
        # A recognisable name so operators (and tests) can find this process's connection.
        self.client_name = f"mychat-broker-{os.getpid()}-{secrets.token_hex(4)}"
        self.stats = BrokerStats()
        self._subscriptions = Subscribers(self.stats)
        self._publisher: Redis | None = None
        self._listener: Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._closed = False

    @property
    def connected(self) -> bool:
        """True while the pub/sub connection is subscribed (events are being received)."""
        return self._subscribed.is_set()

    async def start(self) -> None:
        # Our own reconnect loop decides what a reconnect means (RESYNC), so redis-py must not
        # silently retry underneath it: no retries on either client.
        options: dict[str, Any] = {
            "retry": Retry(NoBackoff(), 0),
            "socket_timeout": SOCKET_TIMEOUT,
            "socket_connect_timeout": SOCKET_TIMEOUT,
        }
        self._publisher = Redis.from_url(
            self._url, client_name=f"{self.client_name}-pub", **options
        )
        if not self._listen:
            try:  # a Redis that cannot be reached refuses the start, as below
                await asyncio.wait_for(self._publisher.ping(), self._start_timeout)
            except TimeoutError as error:  # before CONNECTION_ERRORS: it is an OSError
                await self.close()
                raise RedisConnectionError(
                    f"no answer from Redis within {self._start_timeout}s"
                ) from error
            except CONNECTION_ERRORS:
                await self.close()
                raise
            return
        self._listener = Redis.from_url(self._url, client_name=self.client_name, **options)
        self._reader = asyncio.create_task(self._read_forever(), name="redis-broker-reader")
        try:
            # Events published after start() returns must reach subscribers: wait until the
            # channel is subscribed. A Redis that cannot be reached refuses the start.
            await asyncio.wait_for(self._subscribed.wait(), self._start_timeout)
        except TimeoutError as error:
            await self.close()
            raise RedisConnectionError(
                f"could not subscribe to Redis within {self._start_timeout}s"
            ) from error

    async def close(self) -> None:
        self._closed = True
        self._subscribed.clear()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait([self._reader])  # wait for it to end, without re-raising
            self._reader = None
        for client in (self._publisher, self._listener):
            if client is not None:
                await client.aclose()
        self._publisher = self._listener = None
        self._offer_all(None)

    async def check(self) -> None:
        """Raise unless Redis answers and our channel is subscribed (for readiness probes)."""
        if self._publisher is None or self._closed:
            raise BrokerClosed("the broker is not running")
        if self._listen and not self.connected:
            raise RedisConnectionError("the pub/sub connection is down")
        await self._publisher.ping()

    async def publish(self, event: Event) -> None:
        """Publish to every process; retry briefly on a dropped connection, then raise."""
        data, channel = event.to_json(), self._channel_for(event)
        await self._with_retries(lambda publisher: publisher.publish(channel, data))
        self.stats.published += 1

    async def publish_many(self, events: Sequence[Event]) -> None:
        """Publish in order in one round trip (a pipeline, not a transaction)."""
        payloads = [(self._channel_for(event), event.to_json()) for event in events]

        async def publish_all(publisher: Redis) -> object:
            pipeline = publisher.pipeline(transaction=False)
            for channel, data in payloads:
                pipeline.publish(channel, data)
            return await pipeline.execute()

        await self._with_retries(publish_all)
        self.stats.published += len(payloads)

    def _channel_for(self, event: Event) -> str:
        return self._accounts_channel if event.is_account_event else self._channel

    async def _with_retries(self, command: Callable[[Redis], Awaitable[object]]) -> None:
        delay = PUBLISH_BACKOFF_START
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            if self._publisher is None or self._closed:
                raise BrokerClosed("publish on a broker that is not running")
            try:
                await command(self._publisher)
                if attempt > 1:
                    self.stats.reconnects += 1  # the publishing connection came back
                return
            except CONNECTION_ERRORS:
                if attempt == PUBLISH_ATTEMPTS:
                    raise
                logger.warning("redis publish failed (attempt %d), retrying", attempt)
                await asyncio.sleep(delay)
                delay *= 2

    @property
    def subscriptions(self) -> int:
        return len(self._subscriptions)

    def subscribe(self, user_id: int | None = None) -> LocalSubscription:
        if not self._listen:
            raise RuntimeError("this broker only publishes (listen=False)")
        subscription = LocalSubscription(self._subscriptions, user_id)
        if self._closed:
            subscription.offer(None)
        return subscription

    def _offer_all(self, item: Event | Resync | None) -> None:
        self._subscriptions.offer(item)

    async def _read_forever(self) -> None:
        assert self._listener is not None
        delay = RECONNECT_BACKOFF_START
        ever_subscribed = False
        while not self._closed:
            pubsub = self._listener.pubsub()
            try:
                await pubsub.subscribe(*self._channels)
                async for item in self._messages(pubsub):
                    if item is None:  # a (re)subscription confirmed
                        if ever_subscribed:
                            logger.warning("redis broker reconnected; subscribers resync")
                            self.stats.reconnects += 1
                            self._offer_all(RESYNC)
                        ever_subscribed = True
                        self._subscribed.set()
                        delay = RECONNECT_BACKOFF_START
                    else:
                        self._offer_all(item)
            except CONNECTION_ERRORS as error:
                if self._subscribed.is_set():
                    logger.warning("redis broker connection lost: %s", type(error).__name__)
                self._subscribed.clear()
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_BACKOFF_CAP)

    async def _messages(self, pubsub: PubSub) -> AsyncIterator[Event | None]:
        """Events from the channels; None each time the subscription (to all) is confirmed."""
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=self._heartbeat)
            if message is None:
                if pinged:
                    raise RedisTimeoutError(f"no answer to PING within {self._heartbeat}s")
                await pubsub.ping()
                pinged = True
                continue
            pinged = False
            kind = message["type"]
            if kind == "subscribe":
                if message["data"] == len(self._channels):
                    yield None
            elif kind == "message":
                try:
                    yield Event.from_json(message["data"])
                except (ValueError, KeyError, TypeError):
                    logger.error("dropping a malformed event on %s", self._channel)
