"""Shared fixtures: a fresh MariaDB database per test, Redis, and settings (the helpers they
use live in tests/support)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mychat.settings import Settings
from tests.support.database import MARIADB_HOST, MARIADB_PORT, DatabasePool
from tests.support.env import REDIS_URL, ROOT, TEST_JWT_SECRET, require_server
from tests.support.redis import PrivateRedis


@pytest.fixture(scope="session")
def database_pool() -> Iterator[DatabasePool]:
    pool = DatabasePool(ROOT / "db" / "init.sql")
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
async def mariadb_url(database_pool: DatabasePool) -> AsyncIterator[str]:
    """A fresh MariaDB database of this test's own, loaded from db/init.sql, dropped after it
    (both mostly while other tests run: see DatabasePool)."""
    require_server("MariaDB", MARIADB_HOST, MARIADB_PORT)
    url = await database_pool.take()
    try:
        yield url
    finally:
        database_pool.give_back(url)


@pytest.fixture
def redis_url() -> str:
    require_server("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    """A Redis of the test's own: pub/sub channels are global to a server, and faults are ours."""
    workdir = tmp_path / "private-redis"
    workdir.mkdir()
    server = PrivateRedis(workdir)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def settings(mariadb_url: str, tmp_path: Path) -> Settings:
    """Settings for a service on the fresh MariaDB database."""
    return Settings(
        database_url=mariadb_url,
        data_dir=tmp_path,
        jwt_secret=TEST_JWT_SECRET,
        login_rate_per_minute=1000,
    )


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Embedded-mode settings: SQLite in a temporary data folder."""
    return Settings(data_dir=tmp_path, jwt_secret=TEST_JWT_SECRET, login_rate_per_minute=1000)
