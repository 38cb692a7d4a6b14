"""Short SQLite reads in the event loop's own thread: an AsyncEngine on the plain sqlite3 driver.

With aiosqlite every statement is handed to a worker thread and its answer comes back through
the event loop (`call_soon_threadsafe`): a 50-message page is ~60 us of SQLite and cost
several hundred us of CPU in thread hops and GIL contention (bench/PROFILE.md, "`mychat serve`
reads in the loop's thread"). sqlite3 used from the loop's thread answers at once.

`LoopThreadSQLite` is SQLAlchemy's own pysqlite dialect marked `is_async`, so that an
AsyncEngine (and every read function written for one) runs on it unchanged. Two things make a
blocking driver pass for an async one:
- SQLAlchemy checks that a statement of an AsyncConnection awaited something, to catch a
  blocking driver used by mistake; here blocking is the point, so each statement first awaits a
  coroutine that is already done (no suspension, no trip through the event loop).
- After a statement, `AsyncConnection.execute` awaits the cursor's `_async_soft_close()`, the
  hook by which SQLAlchemy's own async driver adapters fetch their rows before returning. Not a
  public API: `LoopThreadCursor` has it (nothing to fetch: sqlite3 reads rows in this thread).
  SQLAlchemy is pinned to one version (pyproject.toml) and
  tests/mychat/test_loop_sqlite.py fails by name if the hook moves.

Its connections only read (`query_only`), in autocommit: each statement sees what was
committed before it. In WAL mode (mychat.db) a reader does not wait for the writer; when the
database is busy all the same (a checkpoint, a recovery) the statement fails at once with
SQLITE_BUSY (`busy_timeout` 0, `is_busy`) and the caller reads again on the threaded engine:
the loop never waits on a lock. Only for reads of a bounded size (a page, a few chats): a long
one would hold up every other request of the process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import URL, event, exc
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import await_

_T = TypeVar("_T")

DRIVER = "mychat_loop"
# The result codes of a database another connection holds (extended codes share the low byte).
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


async def _done() -> None:
    return None


class LoopThreadCursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """SQLAlchemy's hook (see the module's text): the rows are read where they are used."""


class LoopThreadConnection(sqlite3.Connection):
    def cursor(self, factory: Any = LoopThreadCursor) -> Any:
        return super().cursor(factory)


class LoopThreadSQLite(SQLiteDialect_pysqlite):
    """pysqlite, run by an AsyncEngine in the event loop's thread (see the module's text)."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    # What SQLAlchemy's default dialect does (cursor.execute), after the await it requires.
    def do_execute(self, cursor: Any, statement: Any, parameters: Any, context: Any = None) -> None:
        await_(_done())
        cursor.execute(statement, parameters)

    def do_execute_no_params(self, cursor: Any, statement: Any, context: Any = None) -> None:
        await_(_done())
        cursor.execute(statement)


async def short_read(
    loop_engine: AsyncEngine | None,
    engine: AsyncEngine,
    read: Callable[[AsyncConnection], Awaitable[_T]],
) -> _T:
    """`read` on a connection of `loop_engine` (None: not SQLite) or, when the database is busy,
    again on one of `engine`, the threaded autocommit engine, which waits for it. A read changes
    nothing, so running it twice is safe."""
    if loop_engine is not None:
        try:
            async with loop_engine.connect() as connection:
                return await read(connection)
        except exc.DBAPIError as error:
            if not is_busy(error):
                raise
    async with engine.connect() as connection:
        return await read(connection)


def loop_thread_engine(database: str, pool_size: int) -> AsyncEngine:
    """Read-only autocommit connections to the SQLite file `database`, used in the loop's thread.

    `pool_size` bounds how many requests read at once: a request holds its connection while it
    awaits other things (a response being written, say), never while it reads.
    """
    registry.register(f"sqlite.{DRIVER}", __name__, LoopThreadSQLite.__name__)
    engine = create_async_engine(
        f"sqlite+{DRIVER}:///{database}",
        connect_args={"timeout": 0, "factory": LoopThreadConnection},
        poolclass=AsyncAdaptedQueuePool,
        pool_size=pool_size,
        max_overflow=0,
        isolation_level="AUTOCOMMIT",
        pool_reset_on_return=None,
        hide_parameters=True,  # errors name the statement, never the values
    )
    event.listen(engine.sync_engine, "connect", lambda connection, _record: read_only(connection))
    return engine


def sqlite_file(url: URL) -> str | None:
    """The path of the SQLite file the URL names; None for another database or one in memory
    (which a second connection would not see)."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return database


def read_only(dbapi_connection: Any) -> None:
    """A sqlite3 connection that only reads and never waits on a lock (SQLITE_BUSY at once)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def is_busy(error: BaseException) -> bool:
    """Whether `error` is SQLite saying another connection holds the database (read again on
    the threaded engine)."""
    original = error.orig if isinstance(error, exc.DBAPIError) else error
    code = getattr(original, "sqlite_errorcode", None)
    return (
        isinstance(original, sqlite3.OperationalError)
        and code is not None
        and (code & 0xFF in _BUSY_CODES)
    )
