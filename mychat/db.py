"""Engines, sessions and the column type the shared tables (mychat.tables) use."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, event, exc, make_url
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from mychat.loop_sqlite import loop_thread_engine, sqlite_file
from mychat.settings import Settings

# Below MySQL's default wait_timeout (8 h) and any proxy's idle cut.
POOL_RECYCLE_SECONDS = 1800
SQLITE_BUSY_TIMEOUT_MS = 10_000
# A pooled connection idle for longer than this is pinged before use (see ping_when_idle).
IDLE_PING_SECONDS = 5.0
_LAST_USED = "mychat.last_used"
# Connections of the loop-thread read engine: each request holds one while it awaits anything
# else, and all of them read in one thread, so a few serve any load.
LOOP_READ_POOL = 8


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """DATETIME(6) holding UTC; Python always sees timezone-aware datetimes."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def create_engine(
    settings: Settings,
    *,
    idle_ping_seconds: float = IDLE_PING_SECONDS,
    sqlite_write_lock_at_begin: bool = False,
) -> AsyncEngine:
    """The engine for units of work (a transaction per request, committed at the end).

    sqlite_write_lock_at_begin: on SQLite, every transaction begins with `BEGIN IMMEDIATE`,
    i.e. takes the database's write lock before it reads anything. A writer then never reads
    a snapshot that a concurrent writer makes stale (SQLite would refuse its write with
    "database is locked" instead of waiting), and `SELECT ... FOR UPDATE`, which SQLite does
    not have, is not needed: the write lock covers every row. For services whose transactions
    write; MySQL/MariaDB are unaffected (they lock rows).
    """
    engine = _engine(settings, idle_ping_seconds)
    if sqlite_write_lock_at_begin and engine.dialect.name == "sqlite":
        # SQLAlchemy's documented recipe: the driver emits no BEGIN of its own, we emit ours.
        event.listen(engine.sync_engine, "connect", _no_driver_begin)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def create_autocommit_engine(
    settings: Settings, *, idle_ping_seconds: float = IDLE_PING_SECONDS
) -> AsyncEngine:
    """An engine for single-statement reads only: autocommit connections, no reset on return.

    A connection of a transactional engine is rolled back when it goes back to its pool (one
    round trip per request, on MySQL). These connections never open a transaction, so there is
    nothing to roll back, and one statement is consistent on its own.
    """
    return _engine(
        settings, idle_ping_seconds, isolation_level="AUTOCOMMIT", pool_reset_on_return=None
    )


def create_loop_read_engine(settings: Settings) -> AsyncEngine | None:
    """On a SQLite file: an engine for reads of a bounded size that runs in the event loop's
    thread (mychat.loop_sqlite); None for other databases, whose drivers never leave the loop."""
    database = sqlite_file(make_url(settings.sqlalchemy_url))
    if database is None:
        return None
    return loop_thread_engine(database, min(settings.db_pool_size, LOOP_READ_POOL))


def _no_driver_begin(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _engine(settings: Settings, idle_ping_seconds: float, **options: Any) -> AsyncEngine:
    url = settings.sqlalchemy_url
    # Errors (and their log lines) name the statement, never the values: no message text.
    options.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            # Kept, as for MySQL below: an aiosqlite connection is a thread plus four PRAGMAs,
            # and with SQLAlchemy's default overflow ~1 request in 8 under load opened and
            # closed one (mychat serve, bench/PROFILE.md). No more than there are cores: each
            # connection is a thread, and threads past the cores only contend for the GIL
            # (REST history on `mychat serve`, 2 cores: 40 connections ~750 requests a second,
            # 4 ~1,000, 2 ~1,600).
            pool_size=min(settings.db_pool_size, _cores()),
            max_overflow=0,
            **options,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(
        url,
        pool_recycle=POOL_RECYCLE_SECONDS,
        # Connections are kept, never opened per request: overflow connections are closed
        # when they come back to a full pool, and under steady load that meant a new MariaDB
        # connection for ~5% of requests. Past the size, a request waits for a connection.
        pool_size=settings.db_pool_size,
        max_overflow=0,
        **options,
    )
    ping_when_idle(engine, idle_ping_seconds)
    return engine


def ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Pessimistic disconnect handling, paid only where it can matter.

    `pool_pre_ping` costs a round trip on every checkout, i.e. on every request. A connection
    that served a request a moment ago is as good as a ping; one that sat idle (the server may
    have restarted or cut it meanwhile) is pinged first and, if dead, replaced before the
    request sees it. A connection that dies while in busy use fails one statement; SQLAlchemy
    then invalidates it and every pooled connection older than the failure.
    """
    dialect, pool = engine.sync_engine.dialect, engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _mark_used(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        last_used = record.info.get(_LAST_USED)
        if last_used is None or time.monotonic() - last_used <= idle_seconds:
            return  # fresh from connect(), or just used
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure: the pool replaces it and checks out again
            raise exc.DisconnectionError(f"idle connection is gone: {error}") from error


def _cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL and a busy timeout keep concurrent async writers from failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit once at the end, roll back on any error."""
    async with sessions() as session, session.begin():
        yield session
