"""On SQLite the seed's REST history is read in the event loop's thread (chat_service.loop_reads),
with the threaded driver as the way out when the database is busy."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from chat_service.endpoints import ChatResources
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


def _checkouts(engine: AsyncEngine) -> list[int]:
    """A list that grows by one at each checkout of `engine`'s pool (for the test's length)."""
    counted: list[int] = []

    def checked_out(*_: Any) -> None:
        counted.append(1)

    event.listen(engine.sync_engine.pool, "checkout", checked_out)
    return counted


async def test_the_gateways_short_reads_stay_in_the_loops_thread_on_sqlite(
    harness: ChatHarness, alice: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    sent = [await harness.send(alice, chat_id, f"message {number}") for number in range(3)]
    await harness.indexed()  # the search indexer's batch uses the threaded pool too
    opened: ChatResources = harness.app.state.chat_res
    threaded = _checkouts(harness.autocommit_engine)
    in_loop = [] if opened.loop_read_engine is None else _checkouts(opened.loop_read_engine)
    reads = [
        (f"/internal/chats/{chat_id}/messages", {"last": 2, "with_chat": 1, "unread": 0}),
        (f"/internal/chats/{chat_id}/messages", {"first": 5, "after": sent[0]["id"]}),
        ("/internal/chats", {"first": 10}),
        ("/internal/chats/batch", {"ids": str(chat_id)}),
        ("/internal/last-messages", {"chat_ids": str(chat_id)}),
        ("/internal/messages", {"after": 0}),
    ]
    answers = []
    for path, params in reads:
        response = await harness.client.get(path, params=params, headers=alice.headers)
        assert response.status_code == 200, (path, response.text)
        answers.append(response.json())
    page, forward = answers[0], answers[1]
    assert [m["text"] for m in page["messages"]] == ["message 1", "message 2"]
    assert page["chat"]["id"] == chat_id
    assert [m["text"] for m in forward["messages"]] == ["message 1", "message 2"]
    assert answers[4]["messages"][str(chat_id)]["text"] == "message 2"
    if harness.autocommit_engine.dialect.name == "sqlite":
        assert (len(threaded), len(in_loop)) == (0, len(reads))
    else:
        assert (len(threaded), opened.loop_read_engine) == (len(reads), None)


async def test_a_short_read_fails_as_before_in_the_loops_thread(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    """Errors of a read on the loop's engine are the same answers: 404, 403, 400."""
    chat_id = await harness.create_chat(alice)
    for path, who, status in (
        ("/internal/chats/999999/messages", alice, 404),
        (f"/internal/chats/{chat_id}/messages", bob, 403),
        (f"/internal/chats/{chat_id}/messages?last=0", alice, 400),
    ):
        response = await harness.client.get(path, headers=who.headers)
        assert response.status_code == status, (path, response.text)
