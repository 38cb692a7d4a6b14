"""The embedded mode's SQLite: concurrent writers wait their turn instead of failing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from mychat.settings import Settings
from tests.chat_service.conftest import CHAT, ChatHarness, running_harness
from tests.support.people import Person


@pytest.fixture
async def lite(sqlite_settings: Settings) -> AsyncIterator[ChatHarness]:
    assert sqlite_settings.is_sqlite
    fast = sqlite_settings.model_copy(update={"send_rate_per_minute": 100_000})
    async with running_harness(fast, embedded=True) as harness:
        yield harness


async def test_seed_flow_on_sqlite(lite: ChatHarness) -> None:
    alice = await lite.register("Alice")
    bob = await lite.register("Bob")
    chat_id = await lite.create_chat(alice, "🎉 on SQLite", bob)
    sent = await lite.send(bob, chat_id, "e\u0301 🎉")
    assert sent["date_sent"].endswith("+00:00")
    assert [m["text"] for m in await lite.history(alice, chat_id)] == ["e\u0301 🎉"]
    listed = await lite.client.get(f"{CHAT}/", headers=alice.headers)
    assert listed.json()[0]["name"] == "🎉 on SQLite"
    stranger = await lite.register("Stranger")
    forbidden = await lite.client.get(f"{CHAT}/{chat_id}", headers=stranger.headers)
    assert forbidden.status_code == 403


async def test_concurrent_sends_do_not_fail_with_database_is_locked(lite: ChatHarness) -> None:
    people = [await lite.register(name) for name in ("Alice", "Bob", "Carol")]
    first = await lite.create_chat(people[0], "one", *people[1:])
    second = await lite.create_chat(people[1], "two", people[0])

    async def sender(person: Person, chat_id: int, count: int) -> None:
        for number in range(count):
            await lite.send(person, chat_id, f"{person.nickname} {number}")

    await asyncio.gather(
        *(sender(person, first, 40) for person in people),
        sender(people[0], second, 40),
        sender(people[1], second, 40),
    )
    history = await lite.history(people[0], first, limit=500)
    assert len(history) == 120
    for person in people:
        mine = [m["text"] for m in history if m["sender_id"] == person.id]
        assert mine == [f"{person.nickname} {n}" for n in range(40)]
    assert len(await lite.history(people[0], second, limit=500)) == 80


async def test_concurrent_mixed_writes_on_sqlite(lite: ChatHarness) -> None:
    alice = await lite.register("Alice")
    others = [await lite.register(f"User{n}") for n in range(6)]
    chat_id = await lite.create_chat(alice)
    results = await asyncio.gather(
        *(lite.add_user(alice, chat_id, person) for person in others),
        *(lite.send(alice, chat_id, str(n)) for n in range(20)),
        *(lite.create_chat(alice, f"extra {n}") for n in range(5)),
    )
    assert len(results) == 31
    listed = await lite.client.get(f"{CHAT}/", headers=alice.headers)
    assert len(listed.json()) == 6


async def test_concurrent_identical_client_ids_on_sqlite(lite: ChatHarness) -> None:
    alice = await lite.register("Alice")
    chat_id = await lite.create_chat(alice)
    client_id = str(uuid.uuid4())
    messages = await asyncio.gather(
        *(lite.send(alice, chat_id, "once", client_id=client_id) for _ in range(10))
    )
    assert len({m["id"] for m in messages}) == 1
    assert await lite.message_count() == 1
