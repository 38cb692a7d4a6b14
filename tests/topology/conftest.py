"""The topology under test: `mychat stack` on a fresh MariaDB database and a private Redis."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from assembly.stack import Stack, StackConfig, drop_database
from tests.support.database import MARIADB_HOST, MARIADB_PORT, mysql_url, new_database_name
from tests.support.env import TEST_JWT_SECRET, require_server
from tests.support.redis import PrivateRedis
from tests.topology.nginx_stubs import INDEX_HTML, require_nginx

# Variables of the developer's shell that must not leak into the stack's services.
PRIVATE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "MYCHAT_PORT", "MYCHAT_HOST")


def start_stack(
    workdir: Path,
    redis_url: str,
    web_root: Path | None = None,
    before_start: Callable[[Stack], None] | None = None,
) -> tuple[Stack, str]:
    """nginx, auth, chat and two gateways as separate processes. The stack itself creates the
    database and loads db/init.sql, as `mychat stack` does on a new machine. `before_start`
    sees the planned stack before anything runs."""
    require_nginx()
    require_server("MariaDB", MARIADB_HOST, MARIADB_PORT)
    database = new_database_name()
    if web_root is None:
        web_root = workdir / "web"
        web_root.mkdir(parents=True)
        (web_root / "index.html").write_text(INDEX_HTML)
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_VARIABLES}
    stack = Stack(
        StackConfig(
            workdir=workdir / "stack",
            gateways=2,
            database_url=mysql_url(database),
            redis_url=redis_url,
            jwt_secret=TEST_JWT_SECRET,
            web_root=web_root,
            base_env=env,
        )
    )
    try:
        if before_start is not None:
            before_start(stack)
        stack.start()
    except BaseException:
        asyncio.run(drop_database(mysql_url(database)))
        raise
    return stack, database


def stop_stack(stack: Stack, database: str) -> None:
    stack.stop()
    for log in sorted(stack.logs.glob("*.log")):
        # Shown by pytest only when a test failed.
        print(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-40:]))
    asyncio.run(drop_database(mysql_url(database)))


@pytest.fixture
async def stack(tmp_path: Path, private_redis: PrivateRedis) -> AsyncIterator[Stack]:
    """A stack of the test's own, for tests that kill or restart parts of it."""
    running, database = await asyncio.to_thread(start_stack, tmp_path, private_redis.url)
    try:
        yield running
    finally:
        await asyncio.to_thread(stop_stack, running, database)


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for the tests of a module that leave it intact (they use their own users)."""
    workdir = tmp_path_factory.mktemp("shared-stack")
    (workdir / "redis").mkdir()
    redis = PrivateRedis(workdir / "redis")
    asyncio.run(redis.start())
    try:
        running, database = start_stack(workdir, redis.url)
        try:
            yield running
        finally:
            stop_stack(running, database)
    finally:
        asyncio.run(redis.stop())
