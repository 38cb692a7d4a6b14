"""Sending and reading messages: order, paging, idempotent retries, Unicode, rate limits."""

from __future__ import annotations

import asyncio
import time
import unicodedata
import uuid
from datetime import datetime
from typing import Any

import pytest

from mychat.settings import Settings
from tests.chat_service.conftest import CHAT, ChatHarness, running_harness
from tests.support.people import Person


async def all_history(harness: ChatHarness, reader: Person, chat_id: int) -> list[dict[str, Any]]:
    """Every message, paging back with ?before= in pages of 500."""
    pages: list[list[dict[str, Any]]] = []
    before: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if before is not None:
            params["before"] = before
        page = await harness.history(reader, chat_id, **params)
        if not page:
            break
        pages.insert(0, page)
        before = page[0]["id"]
    return [message for page in pages for message in page]


async def test_1000_messages_sent_in_about_a_second_come_back_in_send_order(
    harness: ChatHarness, alice: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    started = time.perf_counter()
    for number in range(1000):
        await harness.send(alice, chat_id, f"message {number}")
    elapsed = time.perf_counter() - started
    history = await all_history(harness, alice, chat_id)
    assert [m["text"] for m in history] == [f"message {n}" for n in range(1000)]
    ids = [m["id"] for m in history]
    assert ids == sorted(ids)
    # Many share a second (the seed's DATETIME could not order them); ids still do.
    sent_at = [datetime.fromisoformat(m["date_sent"]) for m in history]
    assert sent_at == sorted(sent_at)
    assert elapsed < 30, f"1000 sends took {elapsed:.1f}s"


async def test_concurrent_senders_keep_each_senders_order(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)

    async def sender(person: Person, count: int) -> None:
        for number in range(count):
            await harness.send(person, chat_id, f"{person.nickname} {number}")

    await asyncio.gather(sender(alice, 150), sender(bob, 150), sender(alice, 0))
    history = await all_history(harness, bob, chat_id)
    assert len(history) == 300
    for person in (alice, bob):
        mine = [m["text"] for m in history if m["sender_id"] == person.id]
        assert mine == [f"{person.nickname} {n}" for n in range(150)]
    sent_at = [datetime.fromisoformat(m["date_sent"]) for m in history]
    assert sent_at == sorted(sent_at)


async def test_history_pages_with_limit_and_before(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice)
    sent = [await harness.send(alice, chat_id, str(n)) for n in range(12)]
    ids = [m["id"] for m in sent]
    assert [m["id"] for m in await harness.history(alice, chat_id)] == ids
    assert [m["id"] for m in await harness.history(alice, chat_id, limit=5)] == ids[-5:]
    older = await harness.history(alice, chat_id, limit=5, before=ids[-5])
    assert [m["id"] for m in older] == ids[-10:-5]
    oldest = await harness.history(alice, chat_id, limit=5, before=ids[2])
    assert [m["id"] for m in oldest] == ids[:2]
    assert await harness.history(alice, chat_id, before=ids[0]) == []


async def test_history_defaults_to_the_newest_100(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice)
    for n in range(105):
        await harness.send(alice, chat_id, str(n))
    history = await harness.history(alice, chat_id)
    assert [m["text"] for m in history] == [str(n) for n in range(5, 105)]


async def test_retry_with_the_same_client_id_stores_one_message(
    harness: ChatHarness, alice: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    client_id = str(uuid.uuid4())
    first = await harness.send(alice, chat_id, "only once", client_id=client_id)
    retry = await harness.send(alice, chat_id, "only once", client_id=client_id.upper())
    assert retry == first
    assert first["client_id"] == client_id
    assert [m["id"] for m in await harness.history(alice, chat_id)] == [first["id"]]
    assert await harness.message_count() == 1


async def test_the_same_client_id_from_another_sender_is_another_message(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    client_id = str(uuid.uuid4())
    mine = await harness.send(alice, chat_id, "a", client_id=client_id)
    theirs = await harness.send(bob, chat_id, "b", client_id=client_id)
    assert mine["id"] != theirs["id"]


async def test_a_client_id_reused_in_another_chat_is_409(
    harness: ChatHarness, alice: Person
) -> None:
    first_chat = await harness.create_chat(alice, "one")
    second_chat = await harness.create_chat(alice, "two")
    client_id = str(uuid.uuid4())
    await harness.send(alice, first_chat, "a", client_id=client_id)
    response = await harness.client.post(
        f"{CHAT}/{second_chat}/message",
        json={"text": "a", "client_id": client_id},
        headers=alice.headers,
    )
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert await harness.history(alice, second_chat) == []


async def test_concurrent_sends_with_one_client_id_store_one_message(
    harness: ChatHarness, alice: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    for _round in range(5):
        client_id = str(uuid.uuid4())
        messages = await asyncio.gather(
            *(harness.send(alice, chat_id, "raced", client_id=client_id) for _ in range(8))
        )
        assert len({m["id"] for m in messages}) == 1
    assert await harness.message_count() == 5


async def test_concurrent_sends_with_one_client_id_to_two_chats(
    harness: ChatHarness, alice: Person
) -> None:
    """The unique index decides between chats too: one is stored, the others get 409."""
    chats = [await harness.create_chat(alice, str(n)) for n in range(4)]
    client_id = str(uuid.uuid4())
    responses = await asyncio.gather(
        *(
            harness.client.post(
                f"{CHAT}/{chat_id}/message",
                json={"text": "x", "client_id": client_id},
                headers=alice.headers,
            )
            for chat_id in chats
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
    assert await harness.message_count() == 1


@pytest.mark.parametrize(
    "text",
    [
        "🎉 party",
        "👩‍👩‍👧‍👦 family (ZWJ sequence)",
        "🇫🇷 flag",
        unicodedata.normalize("NFD", "é à ñ"),  # combining characters stay as sent
        "e\u0301\u0302\u0303 stacked marks",
        "日本語のテキスト",
        "مرحبا",
        "null \u0000 byte? no: tab\tand newline\nkept",
    ],
)
async def test_unicode_round_trips(harness: ChatHarness, alice: Person, text: str) -> None:
    chat_id = await harness.create_chat(alice, f"Room {text[:20]}")
    sent = await harness.send(alice, chat_id, text)
    assert sent["text"] == text
    [stored] = await harness.history(alice, chat_id)
    assert stored["text"] == text
    listed = await harness.client.get(f"{CHAT}/", headers=alice.headers)
    # Messages keep what was sent; chat names are stored NFC (mychat.names).
    assert listed.json()[0]["name"] == unicodedata.normalize("NFC", f"Room {text[:20]}".strip())


async def test_sending_too_fast_is_429_with_retry_after(settings: Settings) -> None:
    limited = settings.model_copy(update={"send_rate_per_minute": 3})
    async with running_harness(limited) as harness:
        alice = await harness.register("Alice")
        chat_id = await harness.create_chat(alice)
        for n in range(3):
            await harness.send(alice, chat_id, str(n))
        for path, expected_key in [
            (f"{CHAT}/{chat_id}/message", "error"),
            (f"/internal/chats/{chat_id}/messages", "error"),
        ]:
            response = await harness.client.post(path, json={"text": "4"}, headers=alice.headers)
            assert response.status_code == 429
            body = response.json()
            assert body["code"] == "rate_limited"
            assert expected_key in body
            assert 1 <= body["retry_after"] <= 60
            assert response.headers["retry-after"] == str(body["retry_after"])
        # Another user has their own budget.
        bob = await harness.register("Bob")
        await harness.add_user(alice, chat_id, bob)
        await harness.send(bob, chat_id, "fine")
