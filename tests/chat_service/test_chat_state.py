"""`/internal/chat-state`, where a live subscription starts: its unread count says which
messages it counted, even when sends commit while it is being read (gateway/chat_state.py
then counts only newer ones: a message counted twice showed "2 unread" for one message)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.chat_service.conftest import ChatHarness
from tests.support.people import Person

SENDS = 60


async def chat_state(harness: ChatHarness, reader: Person) -> dict[str, Any]:
    response = await harness.client.get("/internal/chat-state", headers=reader.headers)
    assert response.status_code == 200, response.text
    (chat,) = response.json()["chats"]
    found: dict[str, Any] = chat
    return found


async def test_the_unread_count_says_up_to_which_message_it_counted(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Busy", bob)
    sent: list[int] = []
    done = asyncio.Event()

    async def sender(name: str) -> None:
        for number in range(SENDS // 3):
            sent.append((await harness.send(alice, chat_id, f"{name} {number}"))["id"])

    async def reader() -> list[dict[str, Any]]:
        states = []
        while not done.is_set():
            states.append(await chat_state(harness, bob))
        return states

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(sender(name) for name in ("one", "two", "three")))
    done.set()
    states = await reading
    states.append(await chat_state(harness, bob))

    for state in states:
        counted_up_to = state["unread_counted_up_to"]
        assert counted_up_to >= (state["last_message_id"] or 0)
        assert state["unread_count"] == sum(1 for sent_id in sent if sent_id <= counted_up_to)
    assert states[-1]["unread_count"] == SENDS
    assert states[-1]["unread_counted_up_to"] == max(sent)
