"""The topology under test: `mychat stack` on a fresh MariaDB database and a private Redis."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from mychat.stack import Stack, StackConfig
from tests.broker.redis_server import PrivateRedis
from tests.conftest import (
    MARIADB_HOST,
    MARIADB_PORT,
    TEST_JWT_SECRET,
    mysql_url,
    require_server,
)
from tests.topology.nginx_stubs import INDEX_HTML, require_nginx

# Variables of the developer's shell that must not leak into the stack's services.
PRIVATE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "MYCHAT_PORT", "MYCHAT_HOST")


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    """A Redis of the test's own: pub/sub channels are global to a server, and faults are ours."""
    (tmp_path / "redis").mkdir()
    server = PrivateRedis(tmp_path / "redis")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def stack(tmp_path: Path, private_redis: PrivateRedis) -> AsyncIterator[Stack]:
    """nginx, auth, chat and two gateways as separate processes; the database is made by the
    stack itself (created and loaded from db/init.sql), and dropped afterwards."""
    require_nginx()
    require_server("MariaDB", MARIADB_HOST, MARIADB_PORT)
    database = f"mychat_test_{secrets.token_hex(6)}"
    web_root = tmp_path / "web"
    web_root.mkdir()
    (web_root / "index.html").write_text(INDEX_HTML)
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_VARIABLES}
    running = Stack(
        StackConfig(
            workdir=tmp_path / "stack",
            gateways=2,
            database_url=mysql_url(database),
            redis_url=private_redis.url,
            jwt_secret=TEST_JWT_SECRET,
            web_root=web_root,
            base_env=env,
        )
    )
    try:
        await asyncio.to_thread(running.start)
        yield running
    finally:
        await asyncio.to_thread(running.stop)
        for log in sorted(running.logs.glob("*.log")):
            # Shown by pytest only when the test failed.
            print(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-40:]))
        admin = create_async_engine(mysql_url(), isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f"DROP DATABASE IF EXISTS `{database}`"))
        await admin.dispose()
