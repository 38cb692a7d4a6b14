"""Gateways on Redis: separate processes share events; a Redis restart loses nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from auth_service.app import create_app as create_auth_app
from chat_service.app import create_app as create_chat_app
from gateway.app import create_app as create_gateway_app
from gateway.context import Context
from gateway.ids import database_id
from gateway.subscriptions import AddedToChat, MessageAdded, chat_event_stream, message_stream
from mychat.broker.redis import RedisBroker
from mychat.settings import Settings
from tests.gateway.conftest import GRAPHQL, Gateway, User
from tests.gateway.test_subscriptions import MESSAGE_ADDED, next_data, settle
from tests.support.env import TEST_JWT_SECRET
from tests.support.people import FAST_HASHES
from tests.support.ports import free_port
from tests.support.redis import PrivateRedis
from tests.support.websocket import GraphQLSocket, graphql_socket

pytestmark = pytest.mark.redis
READY_TIMEOUT = 30.0


class Processes:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[subprocess.Popen[bytes]] = []

    def serve(self, service: str, port: int, env: dict[str, str]) -> str:
        with (self.logs / f"{service}-{port}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "assembly.cli", "serve", service, "--port", str(port)],
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.running.append(process)
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        for process in self.running:
            process.terminate()
        for process in self.running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path)
    try:
        yield running
    finally:
        running.stop()


async def wait_ready(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as client, asyncio.timeout(READY_TIMEOUT):
        while True:
            with suppress(httpx.HTTPError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)


@dataclass
class Topology:
    """Where the processes of one multi-process test listen."""

    auth_url: str
    chat_url: str
    gateway_urls: list[str]

    def ws_url(self, index: int) -> str:
        return self.gateway_urls[index].replace("http://", "ws://") + GRAPHQL


async def start_topology(
    settings: Settings,
    redis: PrivateRedis,
    processes: Processes,
    gateways: int = 2,
    extra_env: dict[str, str] | None = None,
) -> Topology:
    """auth, chat and `gateways` gateways, each its own process, on the test's database and
    `redis` (and `extra_env` for all); returns once every one answers /readyz."""
    assert settings.database_url
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": redis.url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "MYCHAT_HOST": "127.0.0.1",
        "MYCHAT_LOG_LEVEL": "warning",
        **(extra_env or {}),
    }
    auth_url = processes.serve("auth", free_port(), env)
    chat_url = processes.serve("chat", free_port(), env)
    gateway_env = {**env, "MYCHAT_AUTH_URL": auth_url, "MYCHAT_CHAT_URL": chat_url}
    gateway_urls = [processes.serve("gateway", free_port(), gateway_env) for _ in range(gateways)]
    await asyncio.gather(*(wait_ready(url) for url in (auth_url, chat_url, *gateway_urls)))
    return Topology(auth_url, chat_url, gateway_urls)


@dataclass
class AcrossGateways:
    """Alice and Bob in the chat "Across", made through the second gateway; Bob's socket is open
    on the first."""

    via_second: Gateway
    alice: User
    bob: User
    chat_id: str
    bob_on_first: GraphQLSocket


@pytest.fixture
async def across(
    settings: Settings, private_redis: PrivateRedis, processes: Processes
) -> AsyncIterator[AcrossGateways]:
    topology = await start_topology(settings, private_redis, processes)
    async with httpx.AsyncClient(base_url=topology.gateway_urls[1], timeout=10) as client:
        via_second = Gateway(client, Counter(), Counter(), settings)
        alice = await via_second.register("Alice")
        bob = await via_second.register("Bob")
        chat_id = await via_second.create_chat(alice, "Across", bob)
        async with graphql_socket(topology.ws_url(0), token=bob.token) as ws:
            yield AcrossGateways(via_second, alice, bob, chat_id, ws)


async def test_subscriber_on_one_gateway_gets_message_sent_through_another(
    across: AcrossGateways,
) -> None:
    ws = across.bob_on_first
    op = await ws.subscribe(MESSAGE_ADDED, {"chatId": across.chat_id})
    await settle()
    await across.via_second.send(across.alice, across.chat_id, "through gateway 2")
    payload = await next_data(ws, op)
    assert payload["data"]["messageAdded"]["text"] == "through gateway 2"


async def test_messages_sent_while_redis_is_down_arrive_after_resync(
    settings: Settings, private_redis: PrivateRedis
) -> None:
    """Chat service and gateway each with their own RedisBroker, as in separate processes."""
    chat_broker = RedisBroker(private_redis.url)
    gateway_broker = RedisBroker(private_redis.url)
    service_settings = settings.model_copy(update={"send_rate_per_minute": 10_000})
    auth = create_auth_app(service_settings, embedded=True, hash_parameters=FAST_HASHES)
    chat = create_chat_app(service_settings, broker=chat_broker, embedded=True)
    app = create_gateway_app(service_settings, auth_app=auth, chat_app=chat, broker=gateway_broker)
    await chat_broker.start()
    await gateway_broker.start()
    try:
        async with (
            lifespans(auth, chat, app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
        ):
            gw = Gateway(client, Counter(), Counter(), settings)
            alice, bob, chat_id = await gw.alice_and_bob_in_a_room()
            received: list[str] = []
            # Bob's subscription stream, driven directly to control the Redis restart.
            bob_context = Context(app.state.gateway, "test")
            assert bob_context.authenticate(bob.token)
            stream = message_stream(bob_context, database_id(chat_id, "Chat"), 0)
            events = chat_event_stream(bob_context.for_operation(), None)
            first = asyncio.ensure_future(anext(stream))
            first_event = asyncio.ensure_future(anext(events))
            await settle()
            await gw.send(alice, chat_id, "before")
            received.append((await first).text)
            assert isinstance(await first_event, MessageAdded)
            assert (await client.get("/readyz")).status_code == 200
            await private_redis.stop()
            down = await client.get("/readyz")
            assert down.status_code == 503
            assert down.json()["failing"] == ["chat", "broker"]  # chat_service uses Redis too
            # Committed, but their events are lost for good: publishing gives up while Redis is
            # down. The resync re-reads messages and the chat list.
            await gw.send(alice, chat_id, "while down")
            new_chat = await gw.create_chat(alice, "New", bob)
            await private_redis.start()
            received.append((await asyncio.wait_for(anext(stream), 15)).text)
            added = await asyncio.wait_for(anext(events), 15)
            assert isinstance(added, AddedToChat)
            assert added.chat.database_id == database_id(new_chat, "Chat")
            caught_up = await asyncio.wait_for(anext(events), 15)
            assert isinstance(caught_up, MessageAdded)
            assert caught_up.message.text == "while down"
            await stream.aclose()
            await events.aclose()
    finally:
        await gateway_broker.close()
        await chat_broker.close()
    assert received == ["before", "while down"]


@asynccontextmanager
async def lifespans(*apps: Starlette) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield
