"""The broker a process creates for itself when none is passed in."""

from __future__ import annotations

from mychat.broker.base import Broker
from mychat.broker.memory import MemoryBroker
from mychat.settings import Settings


def create_broker(
    settings: Settings, *, listen: bool = True, accounts_only: bool = False
) -> Broker:
    """Redis pub/sub when REDIS_URL is set (several processes), else in-memory.

    listen=False: the process only publishes (its Redis broker opens no pub/sub connection).
    accounts_only=True: it hears account events only (the services), not every chat event.
    """
    if settings.redis_url:
        # Imported here: the Redis client is only needed when a Redis URL is configured.
        from mychat.broker.redis import RedisBroker

        return RedisBroker(settings.redis_url, listen=listen, accounts_only=accounts_only)
    return MemoryBroker()
