"""Short SQLite reads in the event loop's own thread: the seed's REST history on `mychat serve`.

(The other short reads run on an engine in the loop's thread, mychat.loop_sqlite; this one
statement, the hottest read, skips even its pool: a request here costs ~30% less CPU.)

On SQLite each statement of the async driver (aiosqlite) is handed to a worker thread and its
answer comes back through the event loop (`call_soon_threadsafe`): a history page of 50 messages
is ~60 us of SQLite and cost ~700 us of CPU per request (bench/PROFILE.md). A sqlite3
connection used from the loop's thread answers at once. It only reads (`query_only`), in
autocommit, so each statement sees what was committed before it and holds no snapshot after.
In WAL mode (mychat.db) a reader does not wait for the writer; when the database is busy all
the same (a checkpoint, a recovery), the read says so at once (`busy_timeout` 0) and the caller
takes the threaded path: the loop never waits on a lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from mychat.loop_sqlite import is_busy, read_only, sqlite_file

Row = tuple[Any, ...]


class LoopReader:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    @classmethod
    def open(cls, engine: AsyncEngine) -> LoopReader | None:
        """A reader of `engine`'s SQLite file, or None (another database, or one in memory)."""
        database = sqlite_file(engine.url)
        if database is None:
            return None
        connection = sqlite3.connect(database, isolation_level=None)
        read_only(connection)
        return cls(connection)

    def rows(self, sql: str, args: Sequence[Any]) -> list[Row] | None:
        """The statement's rows, or None when the database is busy (take the threaded path)."""
        try:
            rows: list[Row] = self._connection.execute(sql, args).fetchall()
        except sqlite3.OperationalError as error:
            if is_busy(error):
                return None
            raise
        return rows

    def close(self) -> None:
        self._connection.close()
