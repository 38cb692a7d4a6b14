"""Read markers written at most once per reader and chat every 2 s, whatever the rate of marks;
each answer exact at once; the last marker written when it is due, and announced after it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import select

from chat_service.access import lock_chats
from chat_service.endpoints import ChatResources
from mychat.events import EventKind
from mychat.settings import Settings
from mychat.tables import chat_members
from tests.chat_service.conftest import ChatHarness, running_harness
from tests.chat_service.test_events import watching
from tests.support.people import Person


def markers(harness: ChatHarness) -> ChatResources:
    opened: ChatResources = harness.app.state.chat_res
    return opened


async def stored_marker(harness: ChatHarness, chat_id: int, user_id: int) -> int:
    cm = chat_members.c
    async with harness.autocommit_engine.connect() as connection:
        value = await connection.scalar(
            select(cm.last_read_message_id).where(cm.chat_id == chat_id, cm.user_id == user_id)
        )
    return int(value or 0)


async def mark(
    harness: ChatHarness, reader: Person, chat_id: int, message_id: int
) -> dict[str, Any]:
    return await harness.mark_read(reader, chat_id, message_id)


async def two_messages(harness: ChatHarness, alice: Person, bob: Person) -> tuple[int, int, int]:
    """A chat of Alice's with Bob in it, and two messages of hers: (chat, first, second)."""
    chat_id = await harness.create_chat(alice, "Room", bob)
    first = (await harness.send(alice, chat_id, "one"))["id"]
    second = (await harness.send(alice, chat_id, "two"))["id"]
    return chat_id, first, second


async def test_a_busy_reader_costs_one_write_per_two_seconds(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Busy", bob)
    read_markers = markers(harness).read_markers
    async with watching(harness) as watcher:
        started = time.monotonic()
        ids = []
        for n in range(30):  # Alice writes, Bob's open chat marks each message read
            ids.append((await harness.send(alice, chat_id, f"m{n}"))["id"])
            answer = await mark(harness, bob, chat_id, ids[-1])
            # Every answer is exact at once, written or not.
            assert answer["last_read_message_id"] == ids[-1]
            assert answer["chat"]["unread_count"] == 0
        elapsed = time.monotonic() - started
        # The first marker at once, then one more each 2 s at most.
        assert read_markers.writes <= 1 + int(elapsed / 2.0) + 1, (read_markers.writes, elapsed)
        await asyncio.sleep(2.2)  # the pending one is due
        assert await stored_marker(harness, chat_id, bob.id) == ids[-1]
        reads = [e for e in watcher.events if e.kind is EventKind.MESSAGES_READ]
    assert reads, "each write is announced (read receipts, the reader's other devices)"
    assert reads[-1].payload["last_read_message_id"] == ids[-1]
    assert reads[-1].recipients == frozenset({alice.id, bob.id})
    assert len(reads) == read_markers.writes <= 2 + int(elapsed / 2.0)


async def test_a_marker_pending_at_shutdown_is_written(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id, first, second = await two_messages(harness, alice, bob)
    await mark(harness, bob, chat_id, first)  # written at once
    answer = await mark(harness, bob, chat_id, second)  # pending for 2 s
    assert answer["last_read_message_id"] == second
    assert await stored_marker(harness, chat_id, bob.id) == first
    await markers(harness).read_markers.close()
    assert await stored_marker(harness, chat_id, bob.id) == second


async def test_a_marker_never_moves_back_or_past_the_newest(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id, first, second = await two_messages(harness, alice, bob)
    assert (await mark(harness, bob, chat_id, second + 1000))["last_read_message_id"] == second
    back = await mark(harness, bob, chat_id, first)
    assert (back["last_read_message_id"], back["chat"]["unread_count"]) == (second, 0)


async def test_each_answer_counts_what_the_chat_list_counts(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person
) -> None:
    chat_id, first, second = await two_messages(harness, alice, bob)
    third = (await harness.send(alice, chat_id, "three"))["id"]
    assert (await mark(harness, bob, chat_id, first))["chat"]["unread_count"] == 2
    await harness.add_user(alice, chat_id, carol)  # a system line after the newest message
    assert (await mark(harness, bob, chat_id, second))["chat"]["unread_count"] == 1
    assert (await mark(harness, bob, chat_id, third))["chat"]["unread_count"] == 0
    await asyncio.sleep(2.2)  # the pending marker is due
    listed = await harness.client.get("/internal/chats", headers=bob.headers)
    assert [chat["unread_count"] for chat in listed.json()["chats"]] == [0]


async def test_markers_due_together_are_written_in_one_commit(
    harness: ChatHarness, alice: Person
) -> None:
    """Five readers' pending markers, due at once (the service stopping), are one unit of work;
    each is stored and announced to its own recipients."""
    readers = [await harness.register(f"Reader{n}") for n in range(5)]
    chat_id = await harness.create_chat(alice, "Crowd", *readers)
    first = (await harness.send(alice, chat_id, "one"))["id"]
    second = (await harness.send(alice, chat_id, "two"))["id"]
    read_markers = markers(harness).read_markers
    for reader in readers:
        await mark(harness, reader, chat_id, first)  # written at once
        await mark(harness, reader, chat_id, second)  # pending for 2 s
    batches, writes = read_markers.batches, read_markers.writes
    async with watching(harness) as watcher:
        await read_markers.close()
        announced = await watcher.wait_for(len(readers))
    assert (read_markers.batches, read_markers.writes) == (batches + 1, writes + len(readers))
    for reader in readers:
        assert await stored_marker(harness, chat_id, reader.id) == second
    readers_told = {event.payload["user"]["id"] for event in announced}
    assert readers_told == {reader.id for reader in readers}
    for event in announced:
        assert event.kind is EventKind.MESSAGES_READ
        assert event.recipients == frozenset({alice.id, event.payload["user"]["id"]})


async def test_one_call_of_first_marks_is_one_commit(harness: ChatHarness, alice: Person) -> None:
    """A gateway's call carrying five readers' first marks writes them in one unit of work,
    and answers after it: each marker is stored when its answer comes."""
    readers = [await harness.register(f"Reader{n}") for n in range(5)]
    chat_id = await harness.create_chat(alice, "Crowd", *readers)
    message = (await harness.send(alice, chat_id, "one"))["id"]
    read_markers = markers(harness).read_markers
    batches, writes = read_markers.batches, read_markers.writes
    marks = [{"token": r.token, "chat_id": chat_id, "message_id": message} for r in readers]
    response = await harness.client.post("/internal/read-markers", json={"marks": marks})
    assert [result["last_read_message_id"] for result in response.json()["results"]] == [
        message
    ] * len(readers)
    assert (read_markers.batches, read_markers.writes) == (batches + 1, writes + len(readers))
    for reader in readers:
        assert await stored_marker(harness, chat_id, reader.id) == message


async def test_a_reader_gone_before_the_batch_leaves_the_others_written(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob, carol)
    first = (await harness.send(alice, chat_id, "one"))["id"]
    second = (await harness.send(alice, chat_id, "two"))["id"]
    for reader in (bob, carol):
        await mark(harness, reader, chat_id, first)
        await mark(harness, reader, chat_id, second)  # pending
    left = await harness.client.post(f"/mychat/api/chat/{chat_id}/leave", headers=bob.headers)
    assert left.status_code == 200, left.text
    await markers(harness).read_markers.close()
    assert await stored_marker(harness, chat_id, carol.id) == second


async def test_a_write_names_its_connection_only_when_all_its_marks_came_from_it(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    """`origin` (the gateway connection that marked) rides on the write's event while every
    mark gathered into the write said the same one; marks of two connections make it anyone's."""
    chat_id, first, second = await two_messages(harness, alice, bob)
    third = (await harness.send(alice, chat_id, "three"))["id"]

    async def mark_from(origin: object, message_id: int) -> dict[str, Any]:
        marks = [{"token": bob.token, "chat_id": chat_id, "message_id": message_id}]
        marks[0]["origin"] = origin
        response = await harness.client.post("/internal/read-markers", json={"marks": marks})
        assert response.status_code == 200
        result: dict[str, Any] = response.json()["results"][0]
        return result

    async with watching(harness) as watcher:
        await mark_from("gw.1", first)  # written at once
        await mark_from("gw.1", second)  # pending...
        await mark_from("gw.2", third)  # ...and gathered with another connection's
        async with asyncio.timeout(5):
            while (
                len(reads := [e for e in watcher.events if e.kind is EventKind.MESSAGES_READ]) < 2
            ):
                await asyncio.sleep(0.05)
    assert [(e.payload["last_read_message_id"], e.payload.get("origin")) for e in reads] == [
        (first, "gw.1"),
        (third, None),
    ]
    for bad in (123, "", "x" * 65):
        refused = await mark_from(bad, third)
        assert (refused["status"], refused["field"]) == (400, "origin")


async def test_markers_due_while_a_batch_is_written_go_together_in_the_next(
    settings: Settings,
) -> None:
    """One batch at a time: while the first reader's marker waits for the chat's row lock (held
    here, as a send holds it), three more readers' first marks fall due one call each; they are
    written together in one next batch, not one batch each. On MariaDB only: on SQLite the calls
    themselves waited for the held transaction and came one by one after it (four batches), so
    the overlap this test needs never happens there."""
    async with running_harness(settings) as harness:
        alice = await harness.register("Alice")
        readers = [await harness.register(f"Reader{n}") for n in range(4)]
        chat_id = await harness.create_chat(alice, "Crowd", *readers)
        message = (await harness.send(alice, chat_id, "one"))["id"]
        read_markers = markers(harness).read_markers
        batches, writes = read_markers.batches, read_markers.writes
        async with harness.engine.connect() as holder:
            transaction = await holder.begin()
            assert await lock_chats(holder, [chat_id]) == {chat_id}
            calls = [asyncio.create_task(mark(harness, readers[0], chat_id, message))]
            await asyncio.sleep(0.2)  # the first batch is under way, waiting for the lock
            calls += [
                asyncio.create_task(mark(harness, reader, chat_id, message))
                for reader in readers[1:]
            ]
            await asyncio.sleep(0.2)
            assert not any(call.done() for call in calls)  # answered once their marker is stored
            await transaction.commit()
            answers = await asyncio.wait_for(asyncio.gather(*calls), 10)
        assert [answer["last_read_message_id"] for answer in answers] == [message] * len(readers)
        assert (read_markers.batches, read_markers.writes) == (batches + 2, writes + len(readers))
        for reader in readers:
            assert await stored_marker(harness, chat_id, reader.id) == message
