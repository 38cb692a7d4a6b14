"""Presence across gateways in Redis: expiring entries per (user, gateway), renewed by heartbeats.

Keys under one prefix:
- `<p>:u:<user id>` hash: gateway id -> when that gateway's hold expires (Unix seconds)
- `<p>:online` sorted set: user id -> the latest expiry of any hold (what sweeps scan)
- `<p>:info:<user id>` hash: nickname and chat ids, for whoever announces the departure
- `<p>:seen` hash: user id -> last seen (Unix seconds)
Each change runs as one Lua script, so two gateways never both announce the same departure.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime

import orjson
from redis.asyncio import Redis

from gateway.presence import Gone, Seen, now_seconds

PREFIX = "mychat:presence"
INFO_TTL_SECONDS = 7 * 24 * 3600

# KEYS: online. ARGV: gateway, expiry, now, info ttl, prefix, then per user: user id, nickname,
# chats json. Answers the ids of the users none of whose holds was alive before (they arrive).
# One call renews a heartbeat's users (RENEW_PER_CALL): a call per user cost the gateway ~8% of a
# core with 5,000 idle users online, in command packing (bench/PROFILE.md).
RENEW = """
local arrived = {}
for u = 6, #ARGV, 3 do
  local user = ARGV[u]
  local holds_key = ARGV[5] .. ':u:' .. user
  local alive = 0
  local holds = redis.call('HGETALL', holds_key)
  for i = 2, #holds, 2 do
    if tonumber(holds[i]) > tonumber(ARGV[3]) then alive = 1 end
  end
  redis.call('HSET', holds_key, ARGV[1], ARGV[2])
  local latest = redis.call('ZSCORE', KEYS[1], user)
  if (not latest) or tonumber(latest) < tonumber(ARGV[2]) then
    redis.call('ZADD', KEYS[1], ARGV[2], user)
  end
  local info_key = ARGV[5] .. ':info:' .. user
  redis.call('HSET', info_key, 'nickname', ARGV[u + 1], 'chats', ARGV[u + 2])
  redis.call('EXPIRE', info_key, ARGV[4])
  if alive == 0 then table.insert(arrived, user) end
end
return arrived
"""
# Users per renewal call: a script keeps Redis to itself while it runs (~1 ms per 100 users).
RENEW_PER_CALL = 500

# KEYS: holds, online, seen. ARGV: gateway, now, user id. Answers 1 if the user left.
RELEASE = """
redis.call('HDEL', KEYS[1], ARGV[1])
local latest = 0
local holds = redis.call('HGETALL', KEYS[1])
for i = 2, #holds, 2 do
  local expiry = tonumber(holds[i])
  if expiry > tonumber(ARGV[2]) and expiry > latest then latest = expiry end
end
if latest > 0 then
  redis.call('ZADD', KEYS[2], latest, ARGV[3])
  return 0
end
redis.call('DEL', KEYS[1])
if redis.call('ZREM', KEYS[2], ARGV[3]) == 0 then return 0 end
redis.call('HSET', KEYS[3], ARGV[3], ARGV[2])
return 1
"""

# KEYS: online, seen. ARGV: now, prefix, ttl. Answers the ids of users whose holds all expired.
SWEEP = """
local gone = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, user in ipairs(due) do
  local key = ARGV[2] .. ':u:' .. user
  local latest, last = 0, 0
  local holds = redis.call('HGETALL', key)
  for i = 1, #holds, 2 do
    local expiry = tonumber(holds[i + 1])
    if expiry > tonumber(ARGV[1]) then
      if expiry > latest then latest = expiry end
    else
      redis.call('HDEL', key, holds[i])
      if expiry > last then last = expiry end
    end
  end
  if latest > 0 then
    redis.call('ZADD', KEYS[1], latest, user)
  else
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[1], user)
    redis.call('HSET', KEYS[2], user, tostring(last - tonumber(ARGV[3])))
    table.insert(gone, user)
  end
end
return gone
"""


class RedisPresenceStore:
    def __init__(self, url: str, ttl: float, *, prefix: str = PREFIX) -> None:
        self._url = url
        self._ttl = ttl
        self._prefix = prefix
        self.gateway_id = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._redis: Redis | None = None

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("the presence store is not started")
        return self._redis

    async def start(self) -> None:
        self._redis = Redis.from_url(self._url, socket_timeout=2.0, socket_connect_timeout=2.0)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    def _holds(self, user_id: int | str) -> str:
        return f"{self._prefix}:u:{user_id}"

    def _info(self, user_id: int | str) -> str:
        return f"{self._prefix}:info:{user_id}"

    async def renew(self, users: dict[int, tuple[str, list[int]]]) -> list[int]:
        now = now_seconds()
        expiry = now + self._ttl
        script = self.redis.register_script(RENEW)
        order = list(users)
        arrived: list[int] = []
        for start in range(0, len(order), RENEW_PER_CALL):
            args: list[str | int | float | bytes] = [
                self.gateway_id,
                expiry,
                now,
                INFO_TTL_SECONDS,
                self._prefix,
            ]
            for user_id in order[start : start + RENEW_PER_CALL]:
                nickname, chat_ids = users[user_id]
                args += [user_id, nickname, orjson.dumps(chat_ids)]
            answer = await script(keys=[f"{self._prefix}:online"], args=args)
            arrived += [int(user_id) for user_id in answer]
        return arrived

    async def release(self, user_id: int) -> datetime | None:
        now = now_seconds()
        script = self.redis.register_script(RELEASE)
        left = await script(
            keys=[self._holds(user_id), f"{self._prefix}:online", f"{self._prefix}:seen"],
            args=[self.gateway_id, now, user_id],
        )
        return datetime.fromtimestamp(now, UTC) if left == 1 else None

    async def sweep(self) -> list[Gone]:
        script = self.redis.register_script(SWEEP)
        gone_ids = await script(
            keys=[f"{self._prefix}:online", f"{self._prefix}:seen"],
            args=[now_seconds(), self._prefix, self._ttl],
        )
        if not gone_ids:
            return []
        ids = [int(raw) for raw in gone_ids]
        pipeline = self.redis.pipeline(transaction=False)
        for user_id in ids:
            pipeline.hmget(self._info(user_id), ["nickname", "chats"])
        pipeline.hmget(f"{self._prefix}:seen", [str(user_id) for user_id in ids])
        *infos, seen = await pipeline.execute()
        gone = []
        for user_id, (nickname, chats), last in zip(ids, infos, seen, strict=True):
            gone.append(
                Gone(
                    user_id,
                    (nickname or b"").decode(),
                    [int(chat_id) for chat_id in orjson.loads(chats or b"[]")],
                    datetime.fromtimestamp(float(last or now_seconds()), UTC),
                )
            )
        return gone

    async def lookup(self, user_ids: list[int]) -> dict[int, Seen]:
        if not user_ids:
            return {}
        keys = [str(user_id) for user_id in user_ids]
        pipeline = self.redis.pipeline(transaction=False)
        pipeline.zmscore(f"{self._prefix}:online", keys)
        pipeline.hmget(f"{self._prefix}:seen", keys)
        expiries, seen = await pipeline.execute()
        now = now_seconds()
        return {
            user_id: Seen(
                expiry is not None and float(expiry) > now,
                None if last is None else datetime.fromtimestamp(float(last), UTC),
            )
            for user_id, expiry, last in zip(user_ids, expiries, seen, strict=True)
        }
