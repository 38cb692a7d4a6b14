"""Our services for a benchmark: a fresh MariaDB database, a private Redis, uvicorn processes.

Each scenario gets its own database (created from db/init.sql, dropped afterwards) and its own
redis-server on a free port, so a benchmark neither sees nor disturbs anyone else's events.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from assembly.stack import drop_database, prepare_database
from bench.procs import HOST, Proc, free_port, uvicorn_server
from mychat.tokens import TokenCodec

ROOT = Path(__file__).resolve().parent.parent
MYSQL_HOST = os.environ.get("MYCHAT_BENCH_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("MYCHAT_BENCH_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("MYCHAT_BENCH_MYSQL_USER", "root")
MYSQL_PASSWORD = os.environ.get("MYCHAT_BENCH_MYSQL_PASSWORD", "")
JWT_SECRET = "bench-secret-" + secrets.token_hex(24)
# Benchmarks send far more than a person would: lift the abuse limits, nothing else.
UNLIMITED = str(10**9)
TOKEN_TTL = timedelta(hours=2)
PLACEHOLDER_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$bm90LWEtcmVhbC1zYWx0$bm90LWEtcmVhbC1oYXNoLW5vdC1hLXJlYWwtaGFzaA"
)


def mysql_url(database: str = "") -> str:
    return (
        f"mysql+asyncmy://{MYSQL_USER}:{MYSQL_PASSWORD}@{MYSQL_HOST}:{MYSQL_PORT}"
        f"/{database}?charset=utf8mb4"
    )


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new MariaDB database loaded from db/init.sql; yields its SQLAlchemy URL."""
    name = f"mychat_bench_{secrets.token_hex(5)}"
    asyncio.run(prepare_database(mysql_url(name), ROOT / "db" / "init.sql"))
    try:
        yield mysql_url(name)
    finally:
        asyncio.run(drop_database(mysql_url(name)))


@contextmanager
def private_redis() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port (no persistence); yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield os.environ.get("MYCHAT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
        return
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
    argv += ["--maxclients", "10000"]
    with Proc("redis", argv, port=port):
        yield f"redis://{HOST}:{port}/0"


@dataclass
class Stack:
    """Base URLs of our running services and what a benchmark needs to talk to them."""

    database_url: str
    redis_url: str
    auth_port: int
    chat_port: int
    gateway_ports: list[int]
    procs: dict[str, Proc] = field(default_factory=dict)
    # Each process's Prometheus endpoint (MYCHAT_METRICS_PORT), by the name in `procs`.
    metrics_ports: dict[str, int] = field(default_factory=dict)
    tokens: TokenCodec = field(default_factory=lambda: TokenCodec(JWT_SECRET, TOKEN_TTL))

    @property
    def auth_url(self) -> str:
        return f"http://{HOST}:{self.auth_port}"

    @property
    def chat_url(self) -> str:
        return f"http://{HOST}:{self.chat_port}"

    def gateway_url(self, index: int = 0) -> str:
        return f"http://{HOST}:{self.gateway_ports[index]}/mychat/graphql"


def service_env(database_url: str, redis_url: str, data_dir: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "JWT_SECRET": JWT_SECRET,
        "MYCHAT_DATA_DIR": str(data_dir),
        "MYCHAT_LOG_LEVEL": "warning",
        "MYCHAT_LOGIN_RATE_PER_MINUTE": UNLIMITED,
        "MYCHAT_SEND_RATE_PER_MINUTE": UNLIMITED,
        "MYCHAT_REGISTER_RATE_PER_MINUTE": UNLIMITED,
        # One seeded user drives the whole load, and seeds thousands of members: the per-user
        # limits of issue 13 would measure the limits, not the server.
        "MYCHAT_CHAT_CREATE_RATE_PER_MINUTE": UNLIMITED,
        "MYCHAT_MEMBER_ADD_RATE_PER_MINUTE": UNLIMITED,
        "MYCHAT_GRAPHQL_COST_PER_MINUTE": UNLIMITED,
        "MYCHAT_SERVICE_CALLS_PER_USER": UNLIMITED,
        # Every benchmark client connects from 127.0.0.1, dozens of handshakes at once.
        "MYCHAT_WS_UNAUTHENTICATED_PER_ADDRESS": UNLIMITED,
    }


@contextmanager
def mychat_stack(
    name: str, *, gateways: int = 1, with_gateway: bool = True, embedded: bool = False
) -> Iterator[Stack]:
    """auth, chat and `gateways` gateway processes on a fresh database and a private Redis.

    `embedded=True` runs the one-process app (`mychat serve all`) instead; every port of the
    Stack is then that process's port.
    """
    with ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mychat-bench-")))
        database_url = stack.enter_context(fresh_database())
        redis_url = stack.enter_context(private_redis())
        env = service_env(database_url, redis_url, data_dir)
        metrics_ports: dict[str, int] = {}

        def measured(key: str, environment: dict[str, str]) -> dict[str, str]:
            metrics_ports[key] = free_port()
            return {**environment, "MYCHAT_METRICS_PORT": str(metrics_ports[key])}

        if embedded:
            # No metrics port: each app of the one process would serve it (Address in use).
            everything = stack.enter_context(uvicorn_server(f"{name}-all", "mychat:all", env=env))
            assert everything.port is not None
            port = everything.port
            yield Stack(database_url, redis_url, port, port, [port], {"all": everything})
            return
        auth = stack.enter_context(
            uvicorn_server(f"{name}-auth", "mychat:auth", env=measured("auth", env))
        )
        chat = stack.enter_context(
            uvicorn_server(f"{name}-chat", "mychat:chat", env=measured("chat", env))
        )
        assert auth.port is not None
        assert chat.port is not None
        procs = {"auth": auth, "chat": chat}
        ports: list[int] = []
        if with_gateway:
            gateway_env = {
                **env,
                "MYCHAT_AUTH_URL": f"http://{HOST}:{auth.port}",
                "MYCHAT_CHAT_URL": f"http://{HOST}:{chat.port}",
            }
            for index in range(gateways):
                key = f"gateway{index}"
                gateway = stack.enter_context(
                    uvicorn_server(
                        f"{name}-{key}", "mychat:gateway", env=measured(key, gateway_env)
                    )
                )
                assert gateway.port is not None
                procs[key] = gateway
                ports.append(gateway.port)
        yield Stack(database_url, redis_url, auth.port, chat.port, ports, procs, metrics_ports)


@dataclass
class Seeded:
    token: str
    user_id: int
    chat_id: int
    send_chat_id: int


def register(stack: Stack, login: str, password: str) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.auth_url}/mychat/api/auth/register",
        json={"login": login, "password": password, "nickname": login},
        timeout=30,
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def seed_chat_with_history(stack: Stack, messages: int = 50) -> Seeded:
    """One registered user, a chat holding `messages` messages, and an empty chat to send to."""
    body = register(stack, "bench", "bench-password-1234")
    token: str = body["token"]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=stack.chat_url, headers=headers, timeout=30) as client:
        chat_ids = []
        for name in ("history", "sends"):
            created = client.post("/mychat/api/chat/", json={"name": name})
            created.raise_for_status()
            chat_ids.append(int(created.json()["chat_id"]))
        for number in range(messages):
            sent = client.post(
                f"/mychat/api/chat/{chat_ids[0]}/message",
                json={"text": f"benchmark message number {number + 1}"},
            )
            sent.raise_for_status()
    return Seeded(token, int(body["user"]["id"]), chat_ids[0], chat_ids[1])


async def _add_members(database_url: str, chat_id: int, count: int) -> list[tuple[int, str]]:
    """Insert `count` users straight into the fresh database and make them chat members.

    Registering them through the API would spend minutes in argon2; none of them logs in.
    """
    from mychat import tables

    engine = create_async_engine(database_url)
    prefix = secrets.token_hex(3)
    rows = [
        {
            "login": f"sub{prefix}{i}",
            "nickname": f"sub{prefix}{i}",
            "nickname_key": f"sub{prefix}{i}",
            "password_hash": PLACEHOLDER_HASH,
        }
        for i in range(count)
    ]
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(tables.users), rows)
            result = await connection.execute(
                text("SELECT id, login FROM users WHERE login LIKE :p ORDER BY id"),
                {"p": f"sub{prefix}%"},
            )
            users = [(int(row[0]), str(row[1])) for row in result]
            await connection.execute(
                insert(tables.chat_members),
                [
                    {"chat_id": chat_id, "user_id": user_id, "role": "member"}
                    for user_id, _ in users
                ],
            )
    finally:
        await engine.dispose()
    return users


def add_members_with_tokens(stack: Stack, chat_id: int, count: int) -> list[str]:
    """`count` new members of the chat, each with a signed token."""
    users = asyncio.run(_add_members(stack.database_url, chat_id, count))
    return [stack.tokens.issue(user_id=uid, login=login, nickname=login) for uid, login in users]


def empty_chats(stack: Stack, token: str, count: int, timeout: float = 30) -> list[int]:
    """`count` new chats of the user's with nobody else and no message yet: their ids."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=stack.chat_url, headers=headers, timeout=timeout) as client:
        return [
            int(
                client.post("/mychat/api/chat/", json={"name": f"spread {number}"})
                .raise_for_status()
                .json()["chat_id"]
            )
            for number in range(count)
        ]


def seed_chat_list(stack: Stack, token: str, count: int) -> None:
    """`count` more chats of the user's, each with one message (a chat list to show)."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=stack.chat_url, headers=headers, timeout=30) as client:
        for number in range(count):
            created = client.post("/mychat/api/chat/", json={"name": f"list {number}"})
            chat_id = int(created.raise_for_status().json()["chat_id"])
            client.post(
                f"/mychat/api/chat/{chat_id}/message", json={"text": f"last message {number}"}
            ).raise_for_status()
