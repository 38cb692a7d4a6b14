"""Who a read marker's `messages_read` event goes to: the reader (their other devices) and the
members who sent a message the marker moved past (their "Seen by"), never every member; the
coalesced write covers everything from the marker as stored when it is written."""

from __future__ import annotations

import asyncio

from mychat.events import Event, EventKind
from tests.chat_service.conftest import CHAT, ChatHarness
from tests.chat_service.test_events import Watcher, watching
from tests.chat_service.test_read_markers import mark
from tests.support.people import Person

DUE = 2.2  # past chat_service.read_markers.READ_MARKER_SECONDS: the pending marker is written


async def reads(watcher: Watcher, count: int) -> list[Event]:
    """The first `count` messages_read events, once they have arrived."""
    async with asyncio.timeout(5):
        while True:
            found = [e for e in watcher.events if e.kind is EventKind.MESSAGES_READ]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)


async def test_receipts_reach_the_reader_and_the_senders_of_what_they_read(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person
) -> None:
    dave = await harness.register("Dave")
    chat_id = await harness.create_chat(alice, "Receipts", bob, carol, dave)
    start = (await harness.send(alice, chat_id, "start"))["id"]
    async with watching(harness) as watcher:
        # From 0 the marker passes everyone's "joined" line: the web app's "Seen by" sits
        # under a viewer's newest line with them as sender, which may be one.
        await mark(harness, bob, chat_id, start)
        [first] = await reads(watcher, 1)
        assert first.recipients == frozenset({alice.id, bob.id, carol.id, dave.id})

        by_carol = (await harness.send(carol, chat_id, "from Carol"))["id"]
        by_alice = (await harness.send(alice, chat_id, "from Alice"))["id"]
        # Within 2 s of the last write: both pending, the highest written when due, and
        # addressed from the stored marker (start), so Carol's message counts.
        await mark(harness, bob, chat_id, by_carol)
        await mark(harness, bob, chat_id, by_alice)
        [_, second] = await reads(watcher, 2)
        assert second.payload["last_read_message_id"] == by_alice
        assert second.recipients == frozenset({alice.id, bob.id, carol.id})  # not Dave

        # Only the line of Carol, who left, and Bob's own message: nobody else is told.
        left = await harness.client.post(f"{CHAT}/{chat_id}/leave", headers=carol.headers)
        assert left.status_code == 200, left.text
        own = (await harness.send(bob, chat_id, "mine"))["id"]
        await asyncio.sleep(DUE)
        await mark(harness, bob, chat_id, own)
        [*_, third] = await reads(watcher, 3)
    assert third.payload["last_read_message_id"] == own
    assert third.recipients == frozenset({bob.id})
    for event in (first, second, third):
        assert Event.from_json(event.to_json()) == event
