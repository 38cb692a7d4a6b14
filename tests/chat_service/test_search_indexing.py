"""The search index written after the sends' commits (chat_service/indexing.py): a late batch
never undoes an edit or a delete, and a process killed before its batch loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from sqlalchemy import insert, select

from chat_service.indexing import SearchIndexer
from mychat.db import create_autocommit_engine, create_engine, utc_now
from mychat.settings import Settings
from mychat.tables import message_search, messages
from tests.chat_service.conftest import ChatHarness, running_harness
from tests.chat_service.test_internal import post
from tests.chat_service.test_message_reads import connection_id
from tests.chat_service.test_search import texts
from tests.support.database import kill_connection
from tests.support.people import Person
from tests.support.ports import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


async def test_a_late_batch_never_brings_back_old_words(
    harness: ChatHarness, alice: Person, chat_settings: Settings
) -> None:
    """A batch written after an edit or a delete of its message (the indexer was slow) leaves
    the edit's words, and the delete's nothing, in place."""
    chat_id = await harness.create_chat(alice, "Room")
    edited = await harness.send(alice, chat_id, "first draft")
    deleted = await harness.send(alice, chat_id, "regrettable remark")
    await harness.indexed()
    async with harness.engine.begin() as connection:  # as if no batch had run yet
        await connection.execute(message_search.delete())
    await post(harness, alice, f"/messages/{edited['id']}/edit", {"text": "final wording"})
    await post(harness, alice, f"/messages/{deleted['id']}/delete", None)
    # The late batch, with the texts as they were sent.
    autocommit = create_autocommit_engine(chat_settings)
    late = SearchIndexer(autocommit)
    try:
        late.add(
            [
                (edited["id"], chat_id, "first draft"),
                (deleted["id"], chat_id, "regrettable remark"),
            ]
        )
        late.start()
        await late.flush()
        assert late.batches == 1
    finally:
        await late.close()
        await autocommit.dispose()
    assert await texts(harness, alice, "draft") == []
    assert await texts(harness, alice, "regrettable") == []
    assert await texts(harness, alice, "final") == ["final wording"]


async def test_a_sender_finds_at_once_what_they_sent(harness: ChatHarness, alice: Person) -> None:
    """The search waits for this process's indexer: no lag for the sender's own messages."""
    chat_id = await harness.create_chat(alice, "Room")
    for n in range(20):
        await harness.send(alice, chat_id, f"note {n} about kestrels")
        assert len(await texts(harness, alice, "kestrels", first=50)) == n + 1


@asynccontextmanager
async def chat_process(settings: Settings) -> AsyncIterator[tuple[str, subprocess.Popen[bytes]]]:
    """`mychat serve chat` on the test's database, as its own process; killed (SIGKILL) at
    the end if still running."""
    port = free_port()
    env = {
        **os.environ,
        "JWT_SECRET": settings.jwt_secret or "",
        "MYCHAT_DATA_DIR": str(settings.data_dir),
        "MYCHAT_LOG_LEVEL": "warning",
    }
    if settings.database_url is not None:
        env["DATABASE_URL"] = settings.database_url
    else:
        env.pop("DATABASE_URL", None)
    command = [
        sys.executable,
        "-c",
        "import sys; from assembly.cli import main; sys.exit(main())",
        *("serve", "chat", "--port", str(port)),
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        await wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def _search(client: httpx.AsyncClient, query: str) -> list[str]:
    response = await client.get("/internal/search", params={"q": query})
    assert response.status_code == 200, response.text
    return [message["text"] for message in response.json()["messages"]]


async def test_messages_a_killed_process_did_not_index_are_found_after_a_restart(
    harness: ChatHarness, alice: Person, chat_settings: Settings
) -> None:
    """kill -9 right after a send's answer (its batch still waiting for company), and a
    message committed by a process that died before any batch: the next start indexes both."""
    chat_id = await harness.create_chat(alice, "Room")
    async with chat_process(chat_settings) as (url, process):
        async with httpx.AsyncClient(base_url=url, headers=alice.headers) as client:
            response = await client.post(
                f"/mychat/api/chat/{chat_id}/message", json={"text": "sent before the crash"}
            )
            assert response.status_code == 200, response.text
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    engine = create_engine(chat_settings)
    try:
        async with engine.begin() as connection:
            stored = await connection.execute(
                insert(messages).values(
                    chat_id=chat_id,
                    sender_id=alice.id,
                    text="committed, never indexed",
                    created_at=utc_now(),
                )
            )
            key = stored.inserted_primary_key
            assert key is not None
            never_indexed = key[0]
        async with engine.connect() as connection:
            indexed = set((await connection.execute(select(message_search.c.message_id))).scalars())
        # (The message sent is most likely not indexed either: its batch waits 50 ms for company.)
        assert never_indexed not in indexed
    finally:
        await engine.dispose()
    async with (
        chat_process(chat_settings) as (url, _process),
        httpx.AsyncClient(base_url=url, headers=alice.headers) as client,
    ):
        async with asyncio.timeout(20):  # the catch-up runs beside the first requests
            while not await _search(client, "never") or not await _search(client, "crash"):
                await asyncio.sleep(0.1)
        assert await _search(client, "crash") == ["sent before the crash"]
        assert await _search(client, "never indexed") == ["committed, never indexed"]


async def test_a_failed_batch_is_written_again_on_a_new_connection(settings: Settings) -> None:
    """The batch's connection dies (MariaDB restarted, an idle cut): the batch is tried again
    and written on a new connection."""
    async with running_harness(settings) as harness:
        alice = await harness.register("Alice")
        chat_id = await harness.create_chat(alice, "Room")
        sent = await harness.send(alice, chat_id, "about kestrels")
        await harness.indexed()
        async with harness.engine.begin() as connection:  # as if no batch had run yet
            await connection.execute(message_search.delete())
        engine = create_autocommit_engine(settings.model_copy(update={"db_pool_size": 1}))
        indexer = SearchIndexer(engine)
        try:
            victim = await connection_id(engine)
            await kill_connection(settings, victim)
            indexer.add([(sent["id"], chat_id, "about kestrels")])
            indexer.start()
            await indexer.flush(10.0)
            assert indexer.batches == 1
            assert await connection_id(engine) != victim
        finally:
            await indexer.close()
            await engine.dispose()
        assert await texts(harness, alice, "kestrels") == ["about kestrels"]
