"""`/internal/chat-state`, where a live subscription starts: its unread count says which
messages it counted, even when sends commit while it is being read (gateway/chat_state.py
then counts only newer ones: a message counted twice showed "2 unread" for one message)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from mychat.tables import messages
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


async def test_the_newest_line_counts_system_lines_the_unread_count_does_not(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person
) -> None:
    """ "Carol joined" after the last message: never unread, yet the chat's newest line, where a
    subscription without `after` starts (else it replays the line as new)."""
    chat_id = await harness.create_chat(alice, "Quiet", bob)
    hello = (await harness.send(alice, chat_id, "hello"))["id"]
    await harness.add_user(alice, chat_id, carol)
    async with harness.engine.connect() as connection:
        joined = await connection.scalar(select(func.max(messages.c.id)))
    assert joined > hello
    state = await chat_state(harness, bob)
    assert (state["unread_count"], state["unread_counted_up_to"]) == (1, hello)
    assert state["newest_line_id"] == joined
    # Read up to the system line: nothing after the marker, the marker is the newest line.
    await harness.mark_read(bob, chat_id, joined)
    state = await chat_state(harness, bob)
    assert state["unread_count"] == 0
    assert state["newest_line_id"] == joined
    assert state["unread_counted_up_to"] == hello  # the last message; nothing newer counted
