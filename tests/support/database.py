"""The MariaDB server under test: URLs, fresh database names, databases made ahead, cutting a
connection."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from assembly.stack import drop_database, prepare_database
from mychat.settings import Settings

MARIADB_HOST = os.environ.get("MYCHAT_TEST_MYSQL_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("MYCHAT_TEST_MYSQL_PORT", "3306"))
MARIADB_USER = os.environ.get("MYCHAT_TEST_MYSQL_USER", "root")
MARIADB_PASSWORD = os.environ.get("MYCHAT_TEST_MYSQL_PASSWORD", "")


def mysql_url(database: str = "") -> str:
    return (
        f"mysql+asyncmy://{MARIADB_USER}:{MARIADB_PASSWORD}@{MARIADB_HOST}:{MARIADB_PORT}"
        f"/{database}?charset=utf8mb4"
    )


def new_database_name() -> str:
    """A database name no other test (of this run or of anyone's on the machine) uses."""
    return f"mychat_test_{secrets.token_hex(6)}"


class DatabasePool:
    """Fresh databases (new names, loaded from `init_sql`) made ahead of the tests that take
    them, and used ones dropped behind them, in a thread of their own: MariaDB spends ~0.5 s of
    disk on each CREATE and ~0.3 s on each DROP, which the test no longer waits for. Every
    database is still used by one test only."""

    def __init__(self, init_sql: Path, ahead: int = 2) -> None:
        self._init_sql = init_sql
        self._ahead = ahead
        # One thread: creations and drops run one after another, in the order asked.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="databases")
        self._ready: deque[Future[str]] = deque()

    def _prepare(self) -> str:
        url = mysql_url(new_database_name())
        asyncio.run(prepare_database(url, self._init_sql))
        return url

    def _fill(self) -> None:
        while len(self._ready) < self._ahead:
            self._ready.append(self._executor.submit(self._prepare))

    async def take(self) -> str:
        """The URL of a fresh database no test has used; the next ones are begun meanwhile."""
        self._fill()
        ready = self._ready.popleft()
        self._fill()
        try:
            return await asyncio.shield(asyncio.wrap_future(ready))
        except asyncio.CancelledError:
            ready.add_done_callback(self._give_back_made)
            raise

    def _give_back_made(self, ready: Future[str]) -> None:
        if not ready.cancelled() and ready.exception() is None:
            self.give_back(ready.result())

    def give_back(self, url: str) -> None:
        """Drop the database later, in the pool's thread."""
        self._executor.submit(asyncio.run, drop_database(url))

    def close(self) -> None:
        """Drop the databases made ahead and wait for every drop."""
        for ready in self._ready:
            try:
                self.give_back(ready.result())
            except Exception:  # noqa: S112 - never made: nothing to drop (its test saw why)
                continue
        self._ready.clear()
        self._executor.shutdown(wait=True)


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
