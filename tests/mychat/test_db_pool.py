"""The pool's disconnect handling: a connection idle for a while is pinged before use."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from mychat.db import _cores, create_engine
from mychat.settings import Settings
from tests.support.database import kill_connection


async def _pooled_connection_id(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT CONNECTION_ID()")))


async def test_a_killed_idle_connection_is_replaced_before_use(settings: Settings) -> None:
    engine = create_engine(settings.model_copy(update={"db_pool_size": 1}), idle_ping_seconds=0.2)
    try:
        victim = await _pooled_connection_id(engine)
        await kill_connection(settings, victim)
        await asyncio.sleep(0.3)  # idle long enough to be pinged at the next checkout
        assert await _pooled_connection_id(engine) != victim  # no error: replaced
    finally:
        await engine.dispose()


async def test_a_connection_killed_while_busy_fails_once_then_is_replaced(
    settings: Settings,
) -> None:
    """The price of not pinging on every checkout: one statement fails, the next succeeds."""
    engine = create_engine(settings.model_copy(update={"db_pool_size": 1}), idle_ping_seconds=60)
    try:
        victim = await _pooled_connection_id(engine)
        await kill_connection(settings, victim)
        with pytest.raises(DBAPIError) as failure:
            await _pooled_connection_id(engine)  # just used: no ping, the statement fails
        assert failure.value.connection_invalidated
        assert await _pooled_connection_id(engine) != victim
    finally:
        await engine.dispose()


async def _busy_rounds(engine: AsyncEngine, one: Callable[[], Awaitable[None]]) -> None:
    """Three rounds of six concurrent requests (more than the pool's two), then dispose."""
    try:
        for _ in range(3):
            await asyncio.gather(*(one() for _ in range(6)))
    finally:
        await engine.dispose()


async def test_busy_requests_reuse_the_pooled_connections(settings: Settings) -> None:
    """More concurrent requests than connections wait for one: none is opened per request."""
    engine = create_engine(settings.model_copy(update={"db_pool_size": 2}))
    seen: set[int] = set()

    async def one() -> None:
        async with engine.connect() as connection:
            row = (await connection.execute(text("SELECT CONNECTION_ID(), SLEEP(0.02)"))).one()
            seen.add(int(row[0]))

    await _busy_rounds(engine, one)
    assert len(seen) == 2, seen


async def test_sqlite_keeps_its_connections_too(tmp_path: Path) -> None:
    """Each aiosqlite connection is a thread, opened with four PRAGMAs: busy requests wait for
    a pooled one instead of opening and closing one each (SQLAlchemy's default overflow)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'pool.sqlite3'}"
    engine = create_engine(Settings(database_url=url, data_dir=tmp_path, db_pool_size=2))
    seen: set[int] = set()

    async def one() -> None:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            seen.add(id(raw.driver_connection))
            await connection.execute(text("SELECT 1"))
            await asyncio.sleep(0.01)

    await _busy_rounds(engine, one)
    assert len(seen) == min(2, _cores()), seen


async def test_a_sqlite_pool_has_no_more_connections_than_cores(tmp_path: Path) -> None:
    """Each aiosqlite connection is a thread: past the cores they only contend for the GIL."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'pool.sqlite3'}"
    engine = create_engine(Settings(database_url=url, data_dir=tmp_path, db_pool_size=40))
    try:
        assert engine.sync_engine.pool.size() == min(40, _cores())  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
