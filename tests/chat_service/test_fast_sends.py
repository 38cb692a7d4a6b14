"""Sending on the database driver (chat_service.fast_sends), on MariaDB and on SQLite.

A send must store what it answers, refuse unknown chats and strangers, publish only after its
commit and nothing otherwise, and never hand a failed connection on.
The HTTP send tests (test_messages, test_events, test_seed_contract) run through it too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, text

from chat_service.fast_reads import FastReads
from chat_service.fast_sends import FastSends
from chat_service.models import Chat, Message
from chat_service.views import MessageView
from mychat.db import create_read_engine
from mychat.events import EventKind
from mychat.http import ApiError
from mychat.service import ServiceResources
from mychat.settings import Settings
from tests.chat_service.conftest import CHAT, ChatHarness, Person, running_harness
from tests.chat_service.test_events import RecordingBroker
from tests.conftest import kill_connection


@dataclass
class Sender:
    sends: FastSends
    broker: RecordingBroker
    reads: FastReads  # on the same engine: names the pooled connection


@pytest.fixture
async def sender(chat_settings: Settings) -> AsyncIterator[Sender]:
    # One pooled connection, so a test knows which one the next send gets.
    engine = create_read_engine(chat_settings.model_copy(update={"db_pool_size": 1}))
    broker = RecordingBroker()
    try:
        yield Sender(FastSends(engine, broker), broker, FastReads(engine))
    finally:
        await engine.dispose()


def resources(harness: ChatHarness) -> ServiceResources:
    res: ServiceResources = harness.app.state.res
    return res


async def _stored(harness: ChatHarness, chat_id: int) -> tuple[list[MessageView], Chat]:
    async with resources(harness).sessions() as session:
        messages = (
            await session.scalars(
                select(Message).where(Message.chat_id == chat_id).order_by(Message.id)
            )
        ).all()
        chat = await session.get(Chat, chat_id)
        assert chat is not None
        return [
            MessageView(m.id, m.chat_id, m.sender_id, "", m.text, m.created_at, m.client_id)
            for m in messages
        ], chat


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
    messages, chat = await _stored(harness, chat_id)
    assert [
        (m.id, m.chat_id, m.sender_id, m.text, m.created_at, m.client_id) for m in messages
    ] == [
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
    # A retry replays the stored message (even with other text) and stores nothing.
    replay, created = await sender.sends.send(mine, alice.id, "Alice", "other", client_id.upper())
    assert (replay, created) == (original, False)
    # The same client_id in another chat of the sender: 409.
    await harness.add_user(bob, theirs, alice)
    with pytest.raises(ApiError) as conflict:
        await sender.sends.send(theirs, alice.id, "Alice", "first", client_id)
    assert (conflict.value.status, conflict.value.field) == (409, "client_id")
    assert sender.broker.published == []
    messages, after = await _stored(harness, mine)
    assert [m.id for m in messages] == [original.id]
    assert (after.last_message_id, after.last_activity_at) == (
        before.last_message_id,
        before.last_activity_at,
    )
    async with resources(harness).sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 1
    # The connection came back clean: the next send on it commits.
    await sender.sends.send(mine, alice.id, "Alice", "after the refusals", None)
    assert len(sender.broker.published) == 1


async def test_concurrent_duplicates_on_the_driver(
    harness: ChatHarness, chat_settings: Settings, alice: Person, bob: Person
) -> None:
    """Many connections, one client_id, two chats: one message, the others replay or get 409."""
    one = await harness.create_chat(alice, "One", bob)
    two = await harness.create_chat(alice, "Two", bob)
    engine = create_read_engine(chat_settings)
    broker = RecordingBroker()
    sends = FastSends(engine, broker)
    client_id = str(uuid.uuid4())
    try:
        outcomes = await asyncio.gather(
            *(sends.send((one, two)[n % 2], bob.id, "Bob", "raced", client_id) for n in range(10)),
            return_exceptions=True,
        )
    finally:
        await engine.dispose()
    stored = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len({view.id for view, _ in stored}) == 1
    assert sum(created for _, created in stored) == 1
    assert all(isinstance(error, ApiError) and error.status == 409 for error in errors), errors
    assert len(broker.published) == 1


async def _connection_id(sender: Sender) -> int:
    rows = await sender.reads._rows("SELECT CONNECTION_ID()")
    return int(rows[0][0])


async def test_a_failed_or_cancelled_send_is_not_reused(settings: Settings) -> None:
    """MariaDB: a connection killed mid-send, or a send cancelled while it waits for the chat's
    row lock, leaves nothing behind, publishes nothing, and its connection is not reused."""
    async with running_harness(settings) as harness:
        alice = await harness.register("Alice")
        chat_id = await harness.create_chat(alice)
        engine = create_read_engine(settings.model_copy(update={"db_pool_size": 1}))
        broker = RecordingBroker()
        sender = Sender(FastSends(engine, broker), broker, FastReads(engine))
        other = create_read_engine(settings)
        try:
            victim = await _connection_id(sender)
            await kill_connection(settings, victim)
            with pytest.raises(Exception):  # noqa: B017, PT011 - the driver's own error
                await sender.sends.send(chat_id, alice.id, "Alice", "lost", None)
            assert await _connection_id(sender) != victim

            busy = await _connection_id(sender)
            async with other.connect() as holder:
                # Another transaction holds the chat's row lock: the send waits in its UPDATE.
                await holder.execute(text("SET autocommit = 0"))
                await holder.execute(
                    text("SELECT id FROM chats WHERE id = :id FOR UPDATE"), {"id": chat_id}
                )
                waiting = asyncio.create_task(
                    sender.sends.send(chat_id, alice.id, "Alice", "cancelled", None)
                )
                await asyncio.sleep(0.3)
                waiting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiting
                await holder.execute(text("ROLLBACK"))
            assert await _connection_id(sender) != busy
            assert broker.published == []
            assert await harness.history(alice, chat_id) == []
            sent, _ = await sender.sends.send(chat_id, alice.id, "Alice", "kept", None)
            assert [m["id"] for m in await harness.history(alice, chat_id)] == [sent.id]
            assert len(broker.published) == 1
        finally:
            await other.dispose()
            await engine.dispose()


async def test_the_http_send_answers_as_before(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice)
    response = await harness.client.post(
        f"{CHAT}/{chat_id}/message", json={"text": "hello"}, headers=alice.headers
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["message"]) == {
        "id",
        "chat_id",
        "sender_id",
        "sender_nickname",
        "text",
        "date_sent",
        "client_id",
    }
    assert body["message"]["sender_nickname"] == "Alice"
