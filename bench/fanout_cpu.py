"""Gateway CPU per delivered `chatEvents` event, in-process: `python -m bench.fanout_cpu`.

N members of one chat (each a different user) hold the web app's own `chatEvents` document, as
Apollo Client sends it (bench/web_operations.py), over graphql-transport-ws, driven straight
through the embedded gateway's ASGI app: no socket and no client parsing, so the process CPU
measured is the gateway's (broker fan-out, Strawberry's handler, execution, JSON encoding).
Each round publishes one `MessageAdded` to the in-memory broker, as chat_service does after a
commit, and waits until every subscriber has its frame. Setup (SQLite, users inserted
directly, the chat-state load of each subscription) is not measured.

Prints CPU microseconds per delivered event and the distinct payloads seen (unread counts differ
per viewer, so the frames must too).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message

from auth_service.app import create_app as create_auth_app
from bench.web_operations import sent
from chat_service.app import create_app as create_chat_app
from gateway.app import create_app as create_gateway_app
from mychat import tables
from mychat.broker import MemoryBroker
from mychat.events import Event, EventKind
from mychat.settings import Settings
from mychat.tokens import TokenCodec

SECRET = "bench-fanout-cpu-secret-0123456789abcdef"
GRAPHQL_PATH = "/mychat/graphql"
SETTLE_SECONDS = 2.0
OPEN_AT_ONCE = 5
PLACEHOLDER_HASH = "$argon2id$v=19$m=19456,t=2,p=1$bm90LXJlYWw$bm90LXJlYWw"


class Delivered:
    """Counts the subscribers' `next` frames; wakes the round when all have one."""

    def __init__(self) -> None:
        self.count = 0
        self.target = 0
        self.done = asyncio.Event()
        self.payloads: set[str] = set()
        self.keep = False  # keep the frames' payloads (the check round), else only count
        self.marker = ""  # in the frames of this round's message (presence frames are not)

    def got(self, text: str) -> None:
        if self.marker not in text:
            return
        self.count += 1
        if self.keep:
            frame = orjson.loads(text)
            self.payloads.add(orjson.dumps(frame["payload"]).decode())
        if self.count >= self.target:
            self.done.set()


class InProcessSocket:
    """One graphql-transport-ws connection driven through the ASGI app (no network)."""

    def __init__(self, app: ASGIApp, token: str, delivered: Delivered) -> None:
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.acked = asyncio.Event()
        self.delivered = delivered
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "path": GRAPHQL_PATH,
            "raw_path": GRAPHQL_PATH.encode(),
            "query_string": b"",
            "headers": [(b"sec-websocket-protocol", b"graphql-transport-ws")],
            "subprotocols": ["graphql-transport-ws"],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8080),
            "scheme": "ws",
        }
        self.task = asyncio.ensure_future(app(scope, self.inbox.get, self.send))
        self._put({"type": "websocket.connect"})
        self._put_json({"type": "connection_init", "payload": {"token": token}})

    def _put(self, message: Message) -> None:
        self.inbox.put_nowait(message)

    def _put_json(self, message: dict[str, Any]) -> None:
        self._put({"type": "websocket.receive", "text": orjson.dumps(message).decode()})

    def subscribe(self, query: str) -> None:
        payload = {"query": query, "variables": {"after": None}}
        self._put_json({"id": "1", "type": "subscribe", "payload": payload})

    async def send(self, message: Message) -> None:
        text = message.get("text")
        if text is None:
            return
        if text.startswith('{"type":"connection_ack"'):
            self.acked.set()
        elif '"type":"next"' in text[:40] or text.startswith('{"id"'):
            self.delivered.got(text)

    async def close(self) -> None:
        self._put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, 10)


@asynccontextmanager
async def embedded(folder: Path) -> AsyncIterator[tuple[ASGIApp, MemoryBroker, Settings]]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{folder / 'bench.db'}",
        jwt_secret=SECRET,
        data_dir=folder,
    )
    broker = MemoryBroker()
    auth = create_auth_app(settings, embedded=True, broker=broker)
    chat = create_chat_app(settings, broker=broker, embedded=True)
    gateway = create_gateway_app(settings, auth_app=auth, chat_app=chat, broker=broker)
    async with AsyncExitStack() as stack:
        await broker.start()
        stack.push_async_callback(broker.close)
        for app in (auth, chat, gateway):
            assert isinstance(app, Starlette)
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield gateway, broker, settings


async def seed(database_url: str, members: int) -> tuple[int, list[tuple[int, str]]]:
    """One chat with `members` members (plus its sender, the first user)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(tables.users),
                [
                    {
                        "login": f"u{i}",
                        "nickname": f"u{i}",
                        "nickname_key": f"u{i}",
                        "password_hash": PLACEHOLDER_HASH,
                    }
                    for i in range(members + 1)
                ],
            )
            users = [
                (int(row.id), str(row.login))
                for row in await connection.execute(
                    select(tables.users.c.id, tables.users.c.login).order_by(tables.users.c.id)
                )
            ]
            created = await connection.execute(
                insert(tables.chats).values(name="Busy room", created_by=users[0][0])
            )
            key = created.inserted_primary_key
            assert key is not None
            chat_id = int(key[0])
            await connection.execute(
                insert(tables.chat_members),
                [
                    {"chat_id": chat_id, "user_id": uid, "role": "owner" if n == 0 else "member"}
                    for n, (uid, _) in enumerate(users)
                ],
            )
    finally:
        await engine.dispose()
    return chat_id, users


async def subscribed(broker: MemoryBroker, count: int) -> None:
    async with asyncio.timeout(120):
        while broker.subscriptions < count:
            await asyncio.sleep(0.01)


def message_event(
    chat_id: int, message_id: int, sender: tuple[int, str], recipients: frozenset[int]
) -> Event:
    row = {
        "id": message_id,
        "chat_id": chat_id,
        "sender_id": sender[0],
        "sender_nickname": sender[1],
        "text": f"message {message_id}",
        "created_at": datetime.now(UTC).isoformat(),
        "client_id": None,
        "edited_at": None,
        "deleted_at": None,
        "reply_to": None,
        "reactions": [],
        "kind": None,
    }
    return Event(EventKind.MESSAGE_ADDED, chat_id, {"message": row}, recipients)


async def measure(subscribers: int, rounds: int, profile: Path | None = None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        async with embedded(Path(folder)) as (app, broker, settings):
            assert settings.database_url is not None
            chat_id, users = await seed(settings.database_url, subscribers)
            codec = TokenCodec(SECRET, timedelta(hours=1))
            recipients = frozenset(uid for uid, _ in users)
            delivered = Delivered()
            query = sent("CHAT_EVENTS")  # as Apollo Client sends it
            sockets = []
            for uid, login in users[1:]:
                socket = InProcessSocket(
                    app, codec.issue(user_id=uid, login=login, nickname=login), delivered
                )
                await asyncio.wait_for(socket.acked.wait(), 10)
                socket.subscribe(query)
                sockets.append(socket)
                if len(sockets) % OPEN_AT_ONCE == 0:  # SQLite's pool: a few loads at a time
                    await subscribed(broker, len(sockets))
            await subscribed(broker, subscribers)
            await asyncio.sleep(SETTLE_SECONDS)  # the subscribers' presence events go by

            async def deliver(message_id: int, sender: tuple[int, str]) -> None:
                delivered.count, delivered.done = 0, asyncio.Event()
                delivered.target = subscribers
                delivered.marker = f'"text":"message {message_id}"'
                await broker.publish(message_event(chat_id, message_id, sender, recipients))
                await asyncio.wait_for(delivered.done.wait(), 60)

            # Warm-up (caches, first events), then a check round: a message from one of the
            # subscribers leaves their unread count at 1, the others' at 2.
            await deliver(1_000_000, users[0])
            delivered.keep = True
            await deliver(1_000_001, users[1])
            distinct = len(delivered.payloads)
            delivered.keep = False
            profiler = cProfile.Profile() if profile is not None else None
            cpu_started, wall_started = time.process_time(), time.perf_counter()
            if profiler is not None:
                profiler.enable()
            for n in range(rounds):
                await deliver(1_000_002 + n, users[0])
            if profiler is not None:
                profiler.disable()
            cpu = time.process_time() - cpu_started
            wall = time.perf_counter() - wall_started
            if profiler is not None and profile is not None:
                profiler.dump_stats(profile)  # the measured rounds only (CPU doubles under it)
            for socket in sockets:
                await socket.close()
    per_delivery = cpu / (rounds * subscribers) * 1e6
    return {
        "subscribers": subscribers,
        "rounds": rounds,
        "cpu_us_per_delivered_event": round(per_delivery, 1),
        "wall_ms_per_message": round(wall / rounds * 1e3, 1),
        "distinct_payloads_in_check_round": distinct,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--profile", type=Path, help="write cProfile stats of the measured rounds to this file"
    )
    arguments = parser.parse_args()
    figures = asyncio.run(measure(arguments.subscribers, arguments.rounds, arguments.profile))
    print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
