"""Shared fixtures: a fresh MariaDB database per test, settings, and in-process HTTP clients."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from assembly.stack import drop_database, prepare_database
from mychat.settings import Settings

if TYPE_CHECKING:
    from tests.broker.redis_server import PrivateRedis

ROOT = Path(__file__).resolve().parent.parent
MARIADB_HOST = os.environ.get("MYCHAT_TEST_MYSQL_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("MYCHAT_TEST_MYSQL_PORT", "3306"))
MARIADB_USER = os.environ.get("MYCHAT_TEST_MYSQL_USER", "root")
MARIADB_PASSWORD = os.environ.get("MYCHAT_TEST_MYSQL_PASSWORD", "")
REDIS_URL = os.environ.get("MYCHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# CI sets this: a missing server is then a failure, never a skip.
REQUIRE_SERVICES = os.environ.get("MYCHAT_REQUIRE_SERVICES") == "1"
TEST_JWT_SECRET = "test-secret-" + "x" * 40


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(condition: bool, message: str) -> None:
    """Skip the test unless condition holds; in CI (MYCHAT_REQUIRE_SERVICES=1) fail instead."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(message + " (MYCHAT_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(message)


def require_server(name: str, host: str, port: int) -> None:
    require(_reachable(host, port), f"{name} is not reachable at {host}:{port}; start it")


def mysql_url(database: str = "") -> str:
    return (
        f"mysql+asyncmy://{MARIADB_USER}:{MARIADB_PASSWORD}@{MARIADB_HOST}:{MARIADB_PORT}"
        f"/{database}?charset=utf8mb4"
    )


async def kill_connection(settings: Settings, connection_id: int) -> None:
    """End a MariaDB connection from another one, as a server restart or an idle cut would."""
    from sqlalchemy import text

    from mychat.db import create_engine

    other = create_engine(settings)
    try:
        async with other.connect() as killer:
            await killer.execute(text(f"KILL {connection_id}"))
    finally:
        await other.dispose()


@pytest.fixture
async def mariadb_url() -> AsyncIterator[str]:
    """A fresh MariaDB database loaded from db/init.sql, dropped after the test."""
    require_server("MariaDB", MARIADB_HOST, MARIADB_PORT)
    name = f"mychat_test_{secrets.token_hex(6)}"
    await prepare_database(mysql_url(name), ROOT / "db" / "init.sql")
    try:
        yield mysql_url(name)
    finally:
        await drop_database(mysql_url(name))


@pytest.fixture
def redis_url() -> str:
    require_server("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    """A Redis of the test's own: pub/sub channels are global to a server, and faults are ours."""
    from tests.broker.redis_server import PrivateRedis  # it imports this module

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
