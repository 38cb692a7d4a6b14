"""The send path (chat_service.sending: store_group under a group commit), on MariaDB and SQLite.

A send must store what it answers, refuse unknown chats and strangers, publish only after its
commit and nothing otherwise, and never hand a failed connection on.
The HTTP send tests (test_messages, test_events, test_seed_contract) run through it too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Row, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chat_service.indexing import SearchIndexer
from chat_service.sending import LANES
from chat_service.sending import Sender as ChatSender
from chat_service.views import MessageView
from mychat.db import create_autocommit_engine
from mychat.events import EventKind
from mychat.http import ApiError
from mychat.settings import Settings
from mychat.tables import chats, messages
from tests.chat_service.conftest import CHAT, ChatHarness, running_harness
from tests.chat_service.test_events import RecordingBroker
from tests.chat_service.test_message_reads import connection_id
from tests.support.database import kill_connection
from tests.support.people import Person
from tests.support.seed_contract import SEED_MESSAGE_KEYS


@dataclass
class Sender:
    sends: ChatSender
    broker: RecordingBroker
    engine: AsyncEngine  # the sender's: connection_id names its pooled connection


def sender_on(settings: Settings, *, pool_size: int | None = None) -> Sender:
    if pool_size is not None:
        settings = settings.model_copy(update={"db_pool_size": pool_size})
    engine = create_autocommit_engine(settings)
    broker = RecordingBroker()
    # Not started: these tests look at the sends, not at the search rows.
    indexer = SearchIndexer(engine)
    return Sender(ChatSender(engine, broker, indexer), broker, engine)


@pytest.fixture
async def sender(chat_settings: Settings) -> AsyncIterator[Sender]:
    # One pooled connection, so a test knows which one the next send gets.
    made = sender_on(chat_settings, pool_size=1)
    try:
        yield made
    finally:
        await made.engine.dispose()


async def _stored(harness: ChatHarness, chat_id: int) -> tuple[list[MessageView], Row[Any]]:
    async with harness.autocommit_engine.connect() as connection:
        stored = await connection.execute(
            # What was sent: not the system lines ("Bob joined") of adding the members.
            select(messages)
            .where(messages.c.chat_id == chat_id, messages.c.kind.is_(None))
            .order_by(messages.c.id)
        )
        views = [
            MessageView(m.id, m.chat_id, m.sender_id, "", m.text, m.created_at, m.client_id)
            for m in stored
        ]
        chat = (await connection.execute(select(chats).where(chats.c.id == chat_id))).one()
        return views, chat


async def test_a_send_stores_what_it_answers_and_publishes_after_commit(
    harness: ChatHarness, sender: Sender, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    client_id = "0D2F8F1E-4B7E-4C1E-9A53-3F3F0F6C2B11"
    sent, created = await sender.sends.send(
        chat_id, bob.id, "Bob", "  e\u0301 🎉 <b>&'\" ", client_id
    )
    assert created is True
    assert (sent.text, sent.client_id, sent.sender_nickname) == (
        "e\u0301 🎉 <b>&'\"",
        client_id.lower(),
        "Bob",
    )
    second, _ = await sender.sends.send(chat_id, alice.id, "Alice", "and another", None)
    stored, chat = await _stored(harness, chat_id)
    assert [(m.id, m.chat_id, m.sender_id, m.text, m.created_at, m.client_id) for m in stored] == [
        (sent.id, chat_id, bob.id, sent.text, sent.created_at, sent.client_id),
        (second.id, chat_id, alice.id, "and another", second.created_at, None),
    ]
    assert chat.last_message_id == second.id
    assert chat.last_activity_at == second.created_at
    # One event per send, after its commit, with the message as the answer has it.
    assert [(event.kind, event.chat_id, event.payload) for event in sender.broker.published] == [
        (EventKind.MESSAGE_ADDED, chat_id, {"message": sent.to_json()}),
        (EventKind.MESSAGE_ADDED, chat_id, {"message": second.to_json()}),
    ]
    # History and the JSON answer agree on every field (dates as stored).
    (first, _second) = await harness.history(alice, chat_id)
    assert first == sent.to_seed_json() | {"date_sent": sent.created_at.isoformat()}


async def test_the_last_message_moves_forward_only(
    harness: ChatHarness, sender: Sender, alice: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    first, _ = await sender.sends.send(chat_id, alice.id, "Alice", "one", None)
    _, chat = await _stored(harness, chat_id)
    assert (chat.last_message_id, chat.last_activity_at) == (first.id, first.created_at)
    second, _ = await sender.sends.send(chat_id, alice.id, "Alice", "two", None)
    _, chat = await _stored(harness, chat_id)
    assert (chat.last_message_id, chat.last_activity_at) == (second.id, second.created_at)
    assert second.created_at >= first.created_at


async def test_refusals_write_and_publish_nothing(
    harness: ChatHarness, sender: Sender, alice: Person, bob: Person
) -> None:
    theirs = await harness.create_chat(bob)
    mine = await harness.create_chat(alice)
    client_id = str(uuid.uuid4())
    original, _ = await sender.sends.send(mine, alice.id, "Alice", "first", client_id)
    sender.broker.published.clear()
    _, before = await _stored(harness, mine)
    cases = [
        ((theirs, alice.id, "Alice", "x", None), 403, "not_a_member"),
        ((424242, alice.id, "Alice", "x", None), 404, "not_found"),
        ((mine, alice.id, "Alice", "   ", None), 400, "validation_error"),
        ((mine, alice.id, "Alice", "x", "not-a-uuid"), 400, "validation_error"),
    ]
    for args, status, code in cases:
        with pytest.raises(ApiError) as refused:
            await sender.sends.send(*args)
        assert (refused.value.status, refused.value.code) == (status, code)
    assert sender.broker.published == []
    # A retry replays the stored message (even with other text) and stores nothing; it
    # publishes the stored message again, in case the first event died with its process.
    replay, created = await sender.sends.send(mine, alice.id, "Alice", "other", client_id.upper())
    assert (replay, created) == (original, False)
    assert [e.payload["message"]["id"] for e in sender.broker.published] == [original.id]
    sender.broker.published.clear()
    # The same client_id in another chat of the sender: 409.
    await harness.add_user(bob, theirs, alice)
    with pytest.raises(ApiError) as conflict:
        await sender.sends.send(theirs, alice.id, "Alice", "first", client_id)
    assert (conflict.value.status, conflict.value.field) == (409, "client_id")
    assert sender.broker.published == []
    stored, after = await _stored(harness, mine)
    assert [m.id for m in stored] == [original.id]
    assert (after.last_message_id, after.last_activity_at) == (
        before.last_message_id,
        before.last_activity_at,
    )
    async with harness.autocommit_engine.connect() as connection:
        sent = select(func.count()).select_from(messages).where(messages.c.kind.is_(None))
        assert await connection.scalar(sent) == 1
    # The connection came back clean: the next send on it commits.
    await sender.sends.send(mine, alice.id, "Alice", "after the refusals", None)
    assert len(sender.broker.published) == 1


async def test_concurrent_duplicates(
    harness: ChatHarness, chat_settings: Settings, alice: Person, bob: Person
) -> None:
    """Many connections, one client_id, two chats: one message, the others replay or get 409."""
    one = await harness.create_chat(alice, "One", bob)
    two = await harness.create_chat(alice, "Two", bob)
    made = sender_on(chat_settings)
    broker = made.broker
    client_id = str(uuid.uuid4())
    try:
        outcomes = await asyncio.gather(
            *(
                made.sends.send((one, two)[n % 2], bob.id, "Bob", "raced", client_id)
                for n in range(10)
            ),
            return_exceptions=True,
        )
    finally:
        await made.engine.dispose()
    stored = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len({view.id for view, _ in stored}) == 1
    assert sum(created for _, created in stored) == 1
    assert all(isinstance(error, ApiError) and error.status == 409 for error in errors), errors
    # The one message, published by its send and again by each replay.
    assert {event.payload["message"]["id"] for event in broker.published} == {stored[0][0].id}
    assert len(broker.published) == len(stored)


async def test_a_failed_send_is_not_reused_and_a_cancelled_one_is_whole(
    settings: Settings,
) -> None:
    """MariaDB: a connection killed mid-send fails that send and is not reused. A caller that
    stops waiting while its send waits for the chat's row lock does not undo it (the send is
    stored and published whole, as if the answer got lost); one that stops while its send is
    still queued behind busy lanes leaves nothing behind."""
    async with running_harness(settings) as harness:
        alice = await harness.register("Alice")
        chat_id = await harness.create_chat(alice)
        sender = sender_on(settings, pool_size=LANES)
        broker, engine = sender.broker, sender.engine
        other = create_autocommit_engine(settings)
        try:
            victim = await connection_id(engine)
            await kill_connection(settings, victim)
            with pytest.raises(Exception):  # noqa: B017, PT011 - the driver's own error
                await sender.sends.send(chat_id, alice.id, "Alice", "lost", None)
            assert await connection_id(engine) != victim

            async with other.connect() as holder:
                # Another transaction holds the chat's row lock: every lane waits for it.
                await holder.execute(text("SET autocommit = 0"))
                await holder.execute(
                    text("SELECT id FROM chats WHERE id = :id FOR UPDATE"), {"id": chat_id}
                )
                in_lanes = []
                for number in range(LANES):
                    in_lanes.append(
                        asyncio.create_task(
                            sender.sends.send(chat_id, alice.id, "Alice", f"lane {number}", None)
                        )
                    )
                    await asyncio.sleep(0.05)  # each takes a lane of its own
                queued = asyncio.create_task(
                    sender.sends.send(chat_id, alice.id, "Alice", "queued", None)
                )
                await asyncio.sleep(0.2)
                for task in (in_lanes[0], queued):
                    task.cancel()
                    with pytest.raises(asyncio.CancelledError):
                        await task
                await holder.execute(text("ROLLBACK"))
            answered = [view for view, _ in await asyncio.gather(*in_lanes[1:])]
            stored = await harness.history(alice, chat_id)
            assert sorted(m["text"] for m in stored) == [f"lane {n}" for n in range(LANES)]
            assert {view.id for view in answered} < {m["id"] for m in stored}
            assert len(broker.published) == LANES
            assert sender.sends.transactions == 1 + LANES
        finally:
            await other.dispose()
            await engine.dispose()


async def test_a_lane_cancelled_mid_transaction_leaves_nothing(settings: Settings) -> None:
    """MariaDB: a lane cancelled (the loop closing) while its transaction waits for a row lock
    answers its senders 503, stores and publishes nothing, and its connection is not reused."""
    async with running_harness(settings) as harness:
        alice = await harness.register("Alice")
        chat_id = await harness.create_chat(alice)
        sender = sender_on(settings, pool_size=1)
        broker, engine = sender.broker, sender.engine
        other = create_autocommit_engine(settings)
        try:
            busy = await connection_id(engine)
            async with other.connect() as holder:
                await holder.execute(text("SET autocommit = 0"))
                await holder.execute(
                    text("SELECT id FROM chats WHERE id = :id FOR UPDATE"), {"id": chat_id}
                )
                waiting = asyncio.create_task(
                    sender.sends.send(chat_id, alice.id, "Alice", "never", None)
                )
                await asyncio.sleep(0.3)
                (lane,) = sender.sends.queue.lanes  # what a closing loop does to it
                lane.cancel()
                with pytest.raises(ApiError) as interrupted:
                    await waiting
                assert interrupted.value.status == 503
                await holder.execute(text("ROLLBACK"))
            assert await connection_id(engine) != busy
            assert broker.published == []
            assert await harness.history(alice, chat_id) == []
        finally:
            await other.dispose()
            await engine.dispose()


async def test_sends_waiting_together_share_one_transaction(
    harness: ChatHarness, sender: Sender, alice: Person, bob: Person, carol: Person
) -> None:
    """Sends queued while the lanes are busy go to the database together, each with its own
    answer: members' messages stored in queue order and dated in id order, a stranger and an
    unknown chat refused, one event per stored message in id order after the commit."""
    chat_id = await harness.create_chat(alice, "Room", bob)
    other_chat = await harness.create_chat(bob, "Other")
    calls = [
        (chat_id, alice.id, "Alice", "a1"),
        (chat_id, bob.id, "Bob", "b1"),
        (chat_id, carol.id, "Carol", "stranger"),
        (other_chat, bob.id, "Bob", "elsewhere"),
        (424242, alice.id, "Alice", "nowhere"),
        (other_chat, alice.id, "Alice", "not in it"),
        (chat_id, alice.id, "Alice", "a2"),
    ] * 8
    # The first LANES sends open a lane each, before the others queue behind them.
    outcomes = await asyncio.gather(
        *(sender.sends.send(*call, None) for call in calls), return_exceptions=True
    )
    assert sender.sends.transactions < len(calls) // 2
    refusals = {"stranger": 403, "nowhere": 404, "not in it": 403}
    stored: list[MessageView] = []
    for (_chat, _user, _nickname, text_sent), outcome in zip(calls, outcomes, strict=True):
        if text_sent in refusals:
            assert isinstance(outcome, ApiError), outcome
            assert outcome.status == refusals[text_sent]
        else:
            assert not isinstance(outcome, BaseException), outcome
            view, created = outcome
            assert (view.text, created) == (text_sent, True)
            stored.append(view)
    in_room = [view for view in stored if view.chat_id == chat_id]
    assert [v.text for v in in_room] == ["a1", "b1", "a2"] * 8  # queue order is id order
    assert [v.id for v in in_room] == sorted(v.id for v in in_room)
    assert [v.created_at for v in in_room] == sorted(v.created_at for v in in_room)
    rows, chat = await _stored(harness, chat_id)
    assert [(m.id, m.text, m.created_at) for m in rows] == [
        (v.id, v.text, v.created_at) for v in in_room
    ]
    assert (chat.last_message_id, chat.last_activity_at) == (in_room[-1].id, in_room[-1].created_at)
    published = [event.payload["message"]["id"] for event in sender.broker.published]
    assert published == sorted(view.id for view in stored)


async def test_a_retried_client_id_in_a_group_replays_and_the_others_are_stored(
    harness: ChatHarness, sender: Sender, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    client_id = str(uuid.uuid4())
    first, _ = await sender.sends.send(chat_id, bob.id, "Bob", "original", client_id)
    outcomes = await asyncio.gather(
        *(sender.sends.send(chat_id, alice.id, "Alice", f"a{n}", None) for n in range(12)),
        sender.sends.send(chat_id, bob.id, "Bob", "retried", client_id),
        *(sender.sends.send(chat_id, alice.id, "Alice", f"b{n}", None) for n in range(12)),
    )
    assert outcomes[12] == (first, False)
    texts = [m["text"] for m in await harness.history(alice, chat_id, limit=50)]
    assert sorted(texts) == sorted(["original", *(f"{p}{n}" for p in "ab" for n in range(12))])
    # The original, the 24 others, and the replay publishing the original again.
    published = [event.payload["message"]["id"] for event in sender.broker.published]
    assert sorted(published) == sorted(
        [first.id, first.id, *(v.id for v, _ in outcomes[:12])] + [v.id for v, _ in outcomes[13:]]
    )


async def test_the_http_send_answers_as_before(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice)
    response = await harness.client.post(
        f"{CHAT}/{chat_id}/message", json={"text": "hello"}, headers=alice.headers
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["message"]) == SEED_MESSAGE_KEYS | {"client_id"}
    assert body["message"]["sender_nickname"] == "Alice"
