"""The hot reads (chat_service.messages, on the autocommit engine), on MariaDB and on SQLite.

They must answer exactly what the tables hold, refuse as access_chat_for_user does, and never
hand a failed connection to the next request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chat_service.access import access_chat_for_user, check_access
from chat_service.chats import get_chats_by_ids
from chat_service.history import (
    BEFORE,
    NEWEST,
    SEED_BEFORE,
    SEED_NEWEST,
    driver_rows,
    engine_rows,
)
from chat_service.messages import get_chat_messages
from mychat.db import create_autocommit_engine
from mychat.http import ApiError
from mychat.settings import Settings
from mychat.tables import messages
from tests.chat_service.conftest import CHAT, ChatHarness, running_harness
from tests.chat_service.test_internal import get
from tests.support.database import kill_connection
from tests.support.people import Person


def reads(harness: ChatHarness) -> AsyncConnection:
    """A connection of the app's autocommit engine (`async with` it)."""
    return harness.autocommit_engine.connect()


async def test_a_page_holds_what_the_models_hold(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    other = await harness.create_chat(alice, "Other")
    await harness.send(alice, other, "elsewhere")
    await harness.send(alice, chat_id, "plain")
    await harness.send(
        bob, chat_id, "e\u0301 🎉 <b>&'\"", client_id="0D2F8F1E-4B7E-4C1E-9A53-3F3F0F6C2B11"
    )
    async with reads(harness) as connection:
        stored = (
            await connection.execute(
                select(messages).where(messages.c.chat_id == chat_id).order_by(messages.c.id)
            )
        ).all()
        page, more = await get_chat_messages(connection, chat_id, alice.id, limit=10)
    assert more is False
    assert [(m.id, m.chat_id, m.sender_id, m.text, m.created_at, m.client_id) for m in page] == [
        (m.id, m.chat_id, m.sender_id, m.text, m.created_at, m.client_id) for m in stored
    ]
    # "Bob joined the chat" (a system line), then what each wrote.
    assert [m.sender_nickname for m in page] == ["Bob", "Alice", "Bob"]
    assert all(m.created_at.tzinfo is UTC for m in page)


async def test_dates_are_written_as_before(harness: ChatHarness, alice: Person) -> None:
    """UTC ISO 8601 with +00:00, and no fraction for a whole second (as isoformat writes)."""
    chat_id = await harness.create_chat(alice)
    moments = [
        datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),
        datetime(2024, 3, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(2024, 3, 1, 12, 30, 0, 500_000, tzinfo=UTC),
    ]
    async with harness.engine.begin() as connection:
        await connection.execute(
            insert(messages),
            [
                {"chat_id": chat_id, "sender_id": alice.id, "text": str(n), "created_at": moment}
                for n, moment in enumerate(moments)
            ],
        )
    history = await harness.history(alice, chat_id)
    assert [m["date_sent"] for m in history] == [
        "2024-02-29T23:59:59+00:00",
        "2024-03-01T00:00:00.000001+00:00",
        "2024-03-01T12:30:00.500000+00:00",
    ]
    internal = await get(harness, alice, f"/chats/{chat_id}/messages", first=3)
    assert [m["created_at"] for m in internal["messages"]] == [m["date_sent"] for m in history]


async def test_pages_in_all_three_shapes(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice)
    ids = [(await harness.send(alice, chat_id, str(n)))["id"] for n in range(7)]

    async def page(**bounds: int | None) -> tuple[list[int], bool]:
        async with reads(harness) as connection:
            found, more = await get_chat_messages(connection, chat_id, alice.id, limit=3, **bounds)
        return [m.id for m in found], more

    assert await page() == (ids[4:], True)
    assert await page(before=ids[4]) == (ids[1:4], True)
    assert await page(before=ids[3]) == (ids[0:3], False)
    assert await page(before=ids[0]) == ([], False)
    assert await page(after=0) == (ids[0:3], True)
    assert await page(after=ids[3]) == (ids[4:7], False)
    assert await page(after=ids[6]) == ([], False)


async def test_refusals_as_access_chat_for_user_answers(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    theirs = await harness.create_chat(bob)
    await harness.send(bob, theirs, "not for Alice")
    mine_but_empty = await harness.create_chat(alice)
    async with reads(harness) as connection:
        for chat_id, code in ((theirs, "not_a_member"), (424242, "not_found")):
            for bounds in ({}, {"before": 10}, {"after": 0}):
                with pytest.raises(ApiError) as refused:
                    await get_chat_messages(connection, chat_id, alice.id, **bounds)
                assert refused.value.code == code
            with pytest.raises(ApiError) as refused:
                await access_chat_for_user(connection, chat_id, alice.id)
            assert refused.value.code == code
        assert await get_chat_messages(connection, mine_but_empty, alice.id) == ([], False)
        await check_access(connection, mine_but_empty, alice.id)
    response = await harness.client.get(f"{CHAT}/{theirs}", headers=alice.headers)
    assert (response.status_code, response.json()["code"]) == (403, "not_a_member")


async def test_chat_row_as_the_batch_reads_it(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room 🎉", bob)
    await harness.send(bob, chat_id, "hi")
    async with reads(harness) as connection:
        (batch,) = await get_chats_by_ids(connection, bob.id, [chat_id], with_unread=False)
        access = await access_chat_for_user(connection, chat_id, bob.id)
    assert access.chat == batch
    assert batch.my_role == "member"
    path = f"/chats/{chat_id}/messages"
    body = await get(harness, bob, path, with_chat=1, unread=0)
    assert (
        body["chat"] == (await get(harness, bob, "/chats/batch", ids=chat_id, unread=0))["chats"][0]
    )
    stranger = await harness.register("Stranger")
    error = await get(harness, stranger, path, 403, with_chat=1, unread=0)
    assert error["code"] == "not_a_member"
    error = await get(harness, stranger, "/chats/424242/messages", 404, with_chat=1, unread=0)
    assert error["code"] == "not_found"


async def test_a_page_is_read_along_the_chat_index(settings: Settings) -> None:
    """Not by the sender: one who wrote much elsewhere must not make every page sort it all."""
    async with running_harness(settings) as harness:
        alice = await harness.register("Alice")
        chat_id = await harness.create_chat(alice)
        elsewhere = await harness.create_chat(alice)
        for n in range(20):
            await harness.send(alice, elsewhere, str(n))
        await harness.send(alice, chat_id, "here")
        async with harness.engine.connect() as connection:
            for sql, args in (
                (NEWEST, (chat_id, alice.id, chat_id, 51)),
                (BEFORE, (chat_id, alice.id, chat_id, 10**6, 51)),
                (SEED_NEWEST, (chat_id, alice.id, chat_id, 50)),
                (SEED_BEFORE, (chat_id, alice.id, chat_id, 10**6, 50)),
            ):
                explained = await connection.exec_driver_sql(
                    "EXPLAIN " + sql.replace("?", "%s"), args
                )
                plan = explained.mappings().all()
                (pages,) = [row for row in plan if row["table"] == "m"]
                assert pages["key"] == "ix_messages_chat_id_id", plan
                assert not any("filesort" in (row["Extra"] or "") for row in plan), plan


async def connection_id(engine: AsyncEngine) -> int:
    """The engine pools one connection (db_pool_size 1): this names it."""
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT CONNECTION_ID()")) or 0)


async def _sleep(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await driver_rows(connection, "SELECT SLEEP(5)")  # as the history page runs


async def _sleep_on_the_pool(engine: AsyncEngine) -> None:
    await engine_rows(engine, "SELECT SLEEP(5)")  # as the seed's history page runs


@pytest.mark.parametrize("sleep", [_sleep, _sleep_on_the_pool])
async def test_a_failed_connection_is_not_reused(
    settings: Settings, sleep: Callable[[AsyncEngine], Coroutine[Any, Any, None]]
) -> None:
    engine = create_autocommit_engine(settings.model_copy(update={"db_pool_size": 1}))
    try:
        victim = await connection_id(engine)
        await kill_connection(settings, victim)
        with pytest.raises(Exception):  # noqa: B017, PT011 - the driver's own error
            await connection_id(engine)
        assert await connection_id(engine) != victim  # the next read has a new one
        victim = await connection_id(engine)
        await kill_connection(settings, victim)
        with pytest.raises(Exception):  # noqa: B017, PT011 - the driver's own error
            await engine_rows(engine, "SELECT 1")
        assert await connection_id(engine) != victim
        # A read cancelled mid-way (its protocol state unknown) is not reused either.
        busy = await connection_id(engine)
        sleeper = asyncio.create_task(sleep(engine))
        await asyncio.sleep(0.2)
        sleeper.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sleeper
        assert await connection_id(engine) != busy
    finally:
        await engine.dispose()
