"""On SQLite the seed's REST history is read in the event loop's thread (chat_service.loop_reads),
with the threaded driver as the way out when the database is busy."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine

from chat_service.loop_reads import LoopReader
from tests.chat_service.conftest import ChatHarness
from tests.support.people import Person


async def test_the_seed_history_needs_no_pooled_connection_on_sqlite(
    harness: ChatHarness, alice: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    for number in range(3):
        await harness.send(alice, chat_id, f"message {number}")
    checkouts: list[Any] = []

    def checked_out(*_: Any) -> None:
        checkouts.append(1)

    pool = harness.autocommit_engine.sync_engine.pool
    event.listen(pool, "checkout", checked_out)
    try:
        history = await harness.history(alice, chat_id, limit=2)
        older = await harness.history(alice, chat_id, before=history[0]["id"])
    finally:
        event.remove(pool, "checkout", checked_out)
    assert [m["text"] for m in history] == ["message 1", "message 2"]
    assert [m["text"] for m in older] == ["message 0"]
    sqlite = harness.autocommit_engine.dialect.name == "sqlite"
    assert len(checkouts) == (0 if sqlite else 2)


async def test_a_busy_database_leaves_the_read_to_the_threaded_driver(tmp_path: Path) -> None:
    path = tmp_path / "busy.sqlite3"
    # A rollback-journal database, where a writer's exclusive lock keeps readers out (in WAL
    # mode, which mychat.db sets, that takes a checkpoint or a recovery).
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.execute("INSERT INTO t VALUES (1)")
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    reader = LoopReader.open(engine)
    assert reader is not None
    try:
        assert reader.rows("SELECT x FROM t", ()) == [(1,)]
        writer.execute("BEGIN EXCLUSIVE")
        writer.execute("INSERT INTO t VALUES (2)")
        started = time.monotonic()
        assert reader.rows("SELECT x FROM t", ()) is None  # at once, not after a timeout
        assert time.monotonic() - started < 0.5
        writer.execute("COMMIT")
        assert reader.rows("SELECT count(*) FROM t", ()) == [(2,)]
        with pytest.raises(sqlite3.OperationalError):  # other errors are errors
            reader.rows("SELECT nothing FROM t", ())
    finally:
        reader.close()
        writer.close()
        await engine.dispose()


async def test_no_reader_for_other_databases_or_memory() -> None:
    for url in ("sqlite+aiosqlite:///:memory:", "mysql+asyncmy://root@127.0.0.1/x"):
        engine = create_async_engine(url)
        try:
            assert LoopReader.open(engine) is None
        finally:
            await engine.dispose()
