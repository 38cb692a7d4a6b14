"""Bare `websockets` broadcast server, the fan-out and idle-connection baseline.

`python -m bench.baseline_ws --port N [--redis URL]`. A client sends `subscribe` (answered
`subscribed`) and then only listens; a sender sends `publish <text>` (answered `ok`). With
--redis, a publish goes through a Redis channel and every server process broadcasts what it
hears there to its own subscribers: the same two-process shape as our gateways. With
--frame FILE, each delivery is that file's text (a frame our gateway sent) with TEXT_MARK
replaced by the published text: the same bytes our subscribers get, sent the bare way.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import orjson
from redis.asyncio import Redis
from websockets.asyncio.server import ServerConnection, broadcast, serve

CHANNEL = "bench:broadcast"
TEXT_MARK = "@@TEXT@@"


class Broadcaster:
    def __init__(self, redis: Redis | None, frame: str | None = None) -> None:
        self.redis = redis
        self.subscribers: set[ServerConnection] = set()
        self.frame = frame

    async def handle(self, ws: ServerConnection) -> None:
        try:
            async for message in ws:
                if message == "subscribe":
                    self.subscribers.add(ws)
                    await ws.send("subscribed")
                elif isinstance(message, str) and message.startswith("publish "):
                    text = message.removeprefix("publish ")
                    if self.redis is not None:
                        await self.redis.publish(CHANNEL, text)
                    else:
                        self.deliver(text)
                    await ws.send("ok")
        finally:
            self.subscribers.discard(ws)

    def deliver(self, text: str) -> None:
        if self.frame is not None:
            broadcast(self.subscribers, self.frame.replace(TEXT_MARK, text))
            return
        broadcast(self.subscribers, orjson.dumps({"text": text}).decode())

    async def relay(self) -> None:
        assert self.redis is not None
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(CHANNEL)
        async for item in pubsub.listen():
            if item["type"] == "message":
                self.deliver(item["data"].decode())


async def serve_forever(port: int, redis_url: str | None, frame: str | None = None) -> None:
    redis = Redis.from_url(redis_url) if redis_url else None
    broadcaster = Broadcaster(redis, frame)
    relay = asyncio.create_task(broadcaster.relay()) if redis is not None else None
    # As our gateway under uvicorn: pings every 20 s, 64 KiB frames, no permessage-deflate.
    async with serve(
        broadcaster.handle,
        "127.0.0.1",
        port,
        ping_interval=20,
        max_size=65536,
        compression=None,
    ):
        await asyncio.Future()
    if relay is not None:
        relay.cancel()


def main() -> None:
    import uvloop

    from bench.procs import raise_fd_limit

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis")
    parser.add_argument("--frame", help="deliver this file's text, TEXT_MARK replaced")
    args = parser.parse_args()
    raise_fd_limit()
    frame = Path(args.frame).read_text() if args.frame else None
    uvloop.run(serve_forever(args.port, args.redis, frame))


if __name__ == "__main__":
    main()
