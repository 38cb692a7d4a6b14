"""Chaos as an operator causes it: `mychat stack` run as a command, its children killed with real
signals (and Redis and MariaDB restarted) while people send and subscribe through nginx.

After each fault: every message a sender saw accepted reaches every subscriber exactly once and
in order (catch-up with `after:` included), a send whose answer was lost is retried with its
client id and stored once, and sending works again within 10 s.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.people import Person
from tests.support.redis import PrivateRedis
from tests.topology.clients import (
    SEND_MESSAGE,
    Subscriber,
    create_chat_with,
    global_chat_id,
    history,
    register,
    subscribed,
)
from tests.topology.private_mariadb import PrivateMariaDB
from tests.topology.stack_command import RunningStack, stack_command

pytestmark = [pytest.mark.topology, pytest.mark.mariadb, pytest.mark.redis]

RECOVERY_SECONDS = 10.0
MESSAGES = 40
PACE = 0.05  # between sends: the fault lands in the middle of the stream


@dataclass
class Sender:
    """Sends numbered messages over GraphQL with a client id each, retrying a send until it is
    accepted (as the web app does), and keeps every failure it saw."""

    client: httpx.AsyncClient
    user: Person
    chat_id: str
    accepted: list[dict[str, Any]] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)
    accepted_at: list[float] = field(default_factory=list)

    async def send(self, text: str) -> None:
        client_id = str(uuid.uuid4())
        loop = asyncio.get_running_loop()
        while True:
            failure = await self._try(text, client_id)
            if failure is None:
                self.accepted_at.append(loop.time())
                return
            self.failures.append((loop.time(), failure))
            await asyncio.sleep(0.1)

    async def _try(self, text: str, client_id: str) -> str | None:
        """None when accepted, else what went wrong, as `kind:detail`."""
        try:
            response = await self.client.post(
                "/mychat/graphql",
                json={
                    "query": SEND_MESSAGE,
                    "variables": {"chatId": self.chat_id, "text": text, "clientId": client_id},
                },
                headers=self.user.headers,
            )
        except httpx.TransportError as error:
            return f"transport:{type(error).__name__}"
        if response.status_code != 200:
            return f"http:{response.status_code}:{response.json().get('code')}"
        body = response.json()
        if body.get("errors"):
            return "graphql:" + ",".join(
                str(e.get("extensions", {}).get("code")) for e in body["errors"]
            )
        result = body["data"]["sendMessage"]
        if result["__typename"] != "SendMessagePayload":
            return f"result:{result['__typename']}:{result.get('code')}"
        assert result["message"]["clientId"] == client_id
        self.accepted.append(result["message"])
        return None

    async def send_many(self, count: int, prefix: str) -> None:
        for i in range(count):
            await self.send(f"{prefix}{i}")
            await asyncio.sleep(PACE)


async def fault_while_chatting(
    stack: RunningStack, fault: Callable[[], Awaitable[None]]
) -> tuple[Sender, list[Subscriber], float]:
    """Alice sends MESSAGES while she and Bob (twice) subscribe; `fault` strikes after a
    quarter of them. Returns the sender, the subscribers, and when the fault ended."""
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as client:
        alice, bob = await register(client, "Alice"), await register(client, "Bob")
        chat_id = await create_chat_with(client, alice, bob)
        chat = await global_chat_id(client, bob, chat_id)
        sender = Sender(client, alice, chat)
        await sender.send("first")
        after = sender.accepted[0]["id"]
        subscribers = [
            Subscriber(stack.ws_url, bob, chat, after),
            Subscriber(stack.ws_url, bob, chat, after),
            Subscriber(stack.ws_url, alice, chat, after),
        ]
        async with subscribed(*subscribers):
            sending = asyncio.create_task(sender.send_many(MESSAGES, "m"))
            async with asyncio.timeout(30):
                while len(sender.accepted) < 1 + MESSAGES // 4:
                    await asyncio.sleep(0.01)
            await fault()
            fault_ended = loop.time()
            async with asyncio.timeout(60):
                await sending
            expected = [m["databaseId"] for m in sender.accepted[1:]]
            async with asyncio.timeout(20):
                while any(s.database_ids != expected for s in subscribers):
                    if any(len(s.database_ids) > len(expected) for s in subscribers):
                        break  # a duplicate: the assertion below says which
                    await asyncio.sleep(0.05)
        stored = await history(client, bob, chat_id)
    for subscriber in subscribers:
        assert subscriber.database_ids == expected  # each accepted message once, in order
    texts = [m["text"] for m in stored]
    assert texts == ["first", *(f"m{i}" for i in range(MESSAGES))]  # stored once each
    assert [m["id"] for m in stored][1:] == expected
    return sender, subscribers, fault_ended


def recovered_within(sender: Sender, since: float) -> float:
    """Seconds from `since` to the first send accepted after it."""
    return min(t for t in sender.accepted_at if t >= since) - since


@pytest.mark.parametrize("role", ["gateway", "chat", "auth"])
async def test_kill_9_of_a_process_loses_and_duplicates_nothing(
    tmp_path: Path, private_redis: PrivateRedis, role: str
) -> None:
    async with stack_command(tmp_path, private_redis.url) as stack:
        loop = asyncio.get_running_loop()
        killed_at = 0.0

        async def kill() -> None:
            nonlocal killed_at
            killed_at = loop.time()
            await stack.wait_gone(stack.kill(role))

        sender, subscribers, _ = await fault_while_chatting(stack, kill)
        assert recovered_within(sender, killed_at) < RECOVERY_SECONDS
        await stack.wait_printed(rf"{role}(-\d)? is ready again")
    if role == "gateway":  # some sockets were on the killed gateway and came back
        assert any(s.connections > 1 for s in subscribers)


async def test_a_redis_restart_loses_and_duplicates_nothing(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    async with stack_command(tmp_path, private_redis.url) as stack:

        async def restart_redis() -> None:
            await private_redis.stop()
            await asyncio.sleep(1.0)  # sends go on meanwhile: stored, no event published
            await private_redis.start()

        sender, _subscribers, restarted = await fault_while_chatting(stack, restart_redis)
        assert recovered_within(sender, restarted - 1.0) < RECOVERY_SECONDS


async def test_a_mariadb_crash_refuses_sends_retryably_and_recovers_by_itself(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    database = PrivateMariaDB(tmp_path / "mariadb")
    await database.install()
    await database.start()
    try:
        url = database.url(f"mychat_chaos_{uuid.uuid4().hex[:8]}")
        async with stack_command(tmp_path, private_redis.url, database_url=url) as stack:
            loop = asyncio.get_running_loop()
            window: list[float] = []

            async def crash_and_restart() -> None:
                await database.kill()
                window.append(loop.time())
                await asyncio.sleep(2.0)
                await database.start()
                window.append(loop.time())

            sender, _subscribers, _ = await fault_while_chatting(stack, crash_and_restart)
            down = [kind for at, kind in sender.failures if window[0] <= at <= window[1]]
            assert down, "no send was tried while the database was down"
            # Every refusal says "try again": 503 from nginx or the service, or the GraphQL code.
            assert set(down) <= {"http:503:unavailable", "graphql:SERVICE_UNAVAILABLE"}, down
            assert recovered_within(sender, window[1]) < RECOVERY_SECONDS
    finally:
        await database.kill()
