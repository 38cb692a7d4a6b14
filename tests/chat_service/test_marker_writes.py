"""Markers due together are written together (chat_service.marker_writes): each reader's
marker moves to its own target, and each receipt goes to the reader and to the members who
sent a message between that reader's old marker and its new one, on both databases."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from chat_service.access import lock_chats
from chat_service.marker_writes import MarkerDue, move_markers
from chat_service.unit_of_work import unit_of_work
from mychat.events import EventKind
from mychat.tables import chat_members
from tests.chat_service.conftest import ChatHarness
from tests.chat_service.test_domain import rolled_back
from tests.support.people import Person

_cm = chat_members.c


async def test_readers_with_different_markers_in_one_batch(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person
) -> None:
    dave = await harness.register("Dave")
    erin = await harness.register("Erin")
    chat_id = await harness.create_chat(alice, "Room", bob, carol, dave)
    other_chat = await harness.create_chat(erin, "Other")
    first = (await harness.send(alice, chat_id, "a1"))["id"]
    for reader in (alice, bob, carol):  # past the "joined" lines (their senders hear too)
        await harness.mark_read(reader, chat_id, first - 1)
    second = (await harness.send(bob, chat_id, "b2"))["id"]
    await harness.mark_read(dave, chat_id, second)  # Dave has read up to Bob's message
    third = (await harness.send(carol, chat_id, "c3"))["id"]
    fourth = (await harness.send(alice, chat_id, "a4"))["id"]
    due = [
        MarkerDue(chat_id, bob.id, third),  # senders since: Alice, Carol (and Bob himself)
        MarkerDue(chat_id, carol.id, fourth + 100),  # capped at the newest; Alice, Bob
        MarkerDue(chat_id, dave.id, fourth),  # after his marker: Carol, Alice (not Bob)
        MarkerDue(chat_id, alice.id, first),  # her own message: only she hears
        MarkerDue(chat_id, erin.id, fourth),  # not a member: skipped
        MarkerDue(other_chat, bob.id, fourth),  # not his chat: skipped
        MarkerDue(999_999, bob.id, 1),  # no such chat: skipped
    ]
    async with rolled_back(harness) as work:
        assert await move_markers(work, due) == 4
        rows = await work.connection.execute(
            select(_cm.user_id, _cm.last_read_message_id).where(_cm.chat_id == chat_id)
        )
        markers = dict(rows.all())
        receipts = {
            event.payload["user"]["nickname"]: (
                event.payload["last_read_message_id"],
                event.recipients,
            )
            for event in work.events
        }
    assert markers == {alice.id: first, bob.id: third, carol.id: fourth, dave.id: fourth}
    assert all(event.kind is EventKind.MESSAGES_READ for event in work.events)
    assert receipts == {
        "Bob": (third, frozenset({bob.id, alice.id, carol.id})),
        "Carol": (fourth, frozenset({carol.id, alice.id, bob.id})),
        "Dave": (fourth, frozenset({dave.id, carol.id, alice.id})),
        "Alice": (first, frozenset({alice.id})),
    }


async def test_a_marker_never_moves_back(harness: ChatHarness, alice: Person, bob: Person) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    first = (await harness.send(alice, chat_id, "one"))["id"]
    second = (await harness.send(alice, chat_id, "two"))["id"]
    await harness.mark_read(bob, chat_id, second)
    async with rolled_back(harness) as work:
        assert await move_markers(work, [MarkerDue(chat_id, bob.id, first)]) == 1
        marker = await work.connection.scalar(
            select(_cm.last_read_message_id).where(_cm.chat_id == chat_id, _cm.user_id == bob.id)
        )
        assert (marker, work.events) == (second, [])


async def test_markers_wait_for_the_chats_lock_as_every_writer(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    """A send holds the chat's row lock while it reads the members (a locking read on
    MariaDB); markers written without that lock first deadlocked with it."""
    chat_id = await harness.create_chat(alice, "Room", bob)
    newest = (await harness.send(alice, chat_id, "one"))["id"]
    async with harness.engine.connect() as holder:
        transaction = await holder.begin()
        assert await lock_chats(holder, [chat_id]) == {chat_id}

        async def write() -> int:
            async with unit_of_work(harness.engine, harness.broker) as work:
                return await move_markers(work, [MarkerDue(chat_id, bob.id, newest)])

        writing = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        assert not writing.done()  # waits for the lock
        await transaction.commit()
        assert await asyncio.wait_for(writing, 10) == 1
    async with harness.autocommit_engine.connect() as connection:
        marker = await connection.scalar(
            select(_cm.last_read_message_id).where(_cm.chat_id == chat_id, _cm.user_id == bob.id)
        )
    assert marker == newest
