"""The stack's check that Redis answers before any service starts."""

from __future__ import annotations

from redis.asyncio import Redis

from assembly.stack.errors import StackError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


async def check_redis(url: str) -> None:
    client = Redis.from_url(url, socket_connect_timeout=3)
    try:
        await client.ping()
    except Exception as error:  # any failure means the stack cannot work: say which
        raise StackError(f"Redis at {url} does not answer: {error}") from error
    finally:
        await client.aclose()
