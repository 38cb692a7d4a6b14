"""The loop-thread SQLite engine (mychat.loop_sqlite): reads in the event loop's thread, only
reads, and a busy database sends the read to the threaded engine instead of blocking."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from mychat.db import create_loop_read_engine
from mychat.loop_sqlite import is_busy, loop_thread_engine, short_read
from mychat.settings import Settings
from tests.support.env import TEST_JWT_SECRET


def _with_thread_function(engine: AsyncEngine) -> None:
    """SQL `thread()`: the id of the thread running the statement."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("thread", 0, threading.get_ident)


def _database(path: Path, *, wal: bool) -> sqlite3.Connection:
    writer = sqlite3.connect(path, isolation_level=None)
    if wal:
        writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.execute("INSERT INTO t VALUES (1)")
    return writer


@asynccontextmanager
async def _wal_database(folder: Path) -> AsyncIterator[tuple[sqlite3.Connection, AsyncEngine]]:
    """A WAL database of one row, its writer and a loop-thread engine on it."""
    path = folder / "loop.sqlite3"
    writer = _database(path, wal=True)
    engine = loop_thread_engine(str(path), pool_size=2)
    _with_thread_function(engine)
    try:
        yield writer, engine
    finally:
        writer.close()
        await engine.dispose()


async def test_reads_run_in_the_loops_thread_and_see_each_commit(tmp_path: Path) -> None:
    async with _wal_database(tmp_path) as (writer, engine), engine.connect() as connection:
        # SQLAlchemy's AsyncConnection.execute, with its hooks for async drivers
        # (`_async_soft_close`, see mychat/loop_sqlite.py): a moved hook fails here by name.
        ran_in = await connection.scalar(text("SELECT thread()"))
        assert ran_in == threading.get_ident()
        writer.execute("INSERT INTO t VALUES (2)")  # autocommit: each statement sees it
        assert (await connection.execute(text("SELECT count(*) FROM t"))).all() == [(2,)]
        assert await connection.scalar(text("SELECT x FROM t WHERE x = :x"), {"x": 2}) == 2


async def test_it_never_writes(tmp_path: Path) -> None:
    async with _wal_database(tmp_path) as (writer, engine):
        async with engine.connect() as connection:
            with pytest.raises(exc.OperationalError, match="readonly"):
                await connection.execute(text("INSERT INTO t VALUES (3)"))
        assert writer.execute("SELECT count(*) FROM t").fetchall() == [(1,)]


async def test_a_busy_database_sends_the_read_to_the_threaded_engine(tmp_path: Path) -> None:
    path = tmp_path / "busy.sqlite3"
    # A rollback-journal database, where a writer's exclusive lock keeps readers out (in WAL
    # mode, which mychat.db sets, that takes a checkpoint or a recovery).
    writer = _database(path, wal=False)
    loop_engine = loop_thread_engine(str(path), pool_size=1)
    threaded = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 5})
    engines: list[str] = []

    async def count(connection: AsyncConnection) -> int:
        engines.append(connection.dialect.driver)
        return int(await connection.scalar(text("SELECT count(*) FROM t")) or 0)

    try:
        assert await short_read(loop_engine, threaded, count) == 1
        writer.execute("BEGIN EXCLUSIVE")
        writer.execute("INSERT INTO t VALUES (2)")
        started = time.monotonic()
        async with loop_engine.connect() as connection:
            with pytest.raises(exc.OperationalError) as busy:
                await connection.execute(text("SELECT count(*) FROM t"))
        assert is_busy(busy.value)
        assert time.monotonic() - started < 0.5  # at once, not after a timeout
        # The read waits on the threaded engine until the writer commits, then sees its row.
        asyncio.get_running_loop().call_later(0.2, writer.execute, "COMMIT")
        engines.clear()
        assert await short_read(loop_engine, threaded, count) == 2
        assert engines == ["mychat_loop", "aiosqlite"]
        with pytest.raises(exc.OperationalError) as other:  # other errors are errors
            await short_read(loop_engine, threaded, _no_such_column)
        assert not is_busy(other.value)
    finally:
        writer.close()
        await loop_engine.dispose()
        await threaded.dispose()


async def _no_such_column(connection: AsyncConnection) -> object:
    return await connection.scalar(text("SELECT nothing FROM t"))


async def test_only_a_sqlite_file_gets_one(tmp_path: Path) -> None:
    def settings(url: str | None) -> Settings:
        return Settings(data_dir=tmp_path, jwt_secret=TEST_JWT_SECRET, database_url=url)

    engine = create_loop_read_engine(settings(None))  # the embedded default: a file
    assert engine is not None
    await engine.dispose()
    for url in ("sqlite+aiosqlite:///:memory:", "mysql+asyncmy://root@127.0.0.1/x"):
        assert create_loop_read_engine(settings(url)) is None
