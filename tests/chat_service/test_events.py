"""Events go out after the commit (a subscriber can read what it was told about), not on failure."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from auth_service.app import create_app as create_auth_app
from chat_service.app import create_app
from chat_service.unit_of_work import unit_of_work
from mychat.broker import MemoryBroker
from mychat.broker.redis import RedisBroker
from mychat.events import Event, EventKind
from mychat.service import ServiceResources
from mychat.settings import Settings
from mychat.tables import chat_members, chats, messages
from tests.chat_service.conftest import CHAT, ChatHarness
from tests.support.people import FAST_HASHES, Person, register_person
from tests.support.redis import PrivateRedis

TIMEOUT = 5.0


class Watcher:
    """Subscribes to the harness's broker and, on each event, reads its row on a new connection.

    If an event were published before the commit, the read (another connection) would miss it.
    """

    def __init__(self, harness: ChatHarness) -> None:
        self.harness = harness
        self.events: list[Event] = []
        self.visible: list[bool] = []
        self._arrived = asyncio.Condition()

    async def _row_visible(self, event: Event) -> bool:
        if event.kind is EventKind.MESSAGE_ADDED:
            statement = select(messages.c.id).where(messages.c.id == event.payload["message"]["id"])
        elif event.kind in (EventKind.MEMBER_ADDED, EventKind.MEMBER_LEFT):
            statement = select(chat_members.c.user_id).where(
                chat_members.c.chat_id == event.chat_id,
                chat_members.c.user_id == event.payload["user"]["id"],
            )
        else:
            statement = select(chats.c.id).where(chats.c.id == event.chat_id)
        async with self.harness.autocommit_engine.connect() as connection:
            found = (await connection.execute(statement)).first() is not None
        return not found if event.kind is EventKind.MEMBER_LEFT else found

    async def run(self, ready: asyncio.Event) -> None:
        async with self.harness.broker.subscribe() as subscription:
            ready.set()
            async for event in subscription:
                assert isinstance(event, Event)
                visible = await self._row_visible(event)
                async with self._arrived:
                    self.events.append(event)
                    self.visible.append(visible)
                    self._arrived.notify_all()

    async def wait_for(self, count: int) -> list[Event]:
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.events) >= count), TIMEOUT
            )
        assert all(self.visible), "an event arrived before its row was committed"
        return list(self.events)


@asynccontextmanager
async def watching(harness: ChatHarness) -> AsyncIterator[Watcher]:
    watcher = Watcher(harness)
    ready = asyncio.Event()
    task = asyncio.create_task(watcher.run(ready))
    await ready.wait()
    try:
        yield watcher
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def iso_utc(value: Any) -> bool:
    return isinstance(value, str) and value.endswith("+00:00")


async def test_every_write_publishes_its_event_with_the_documented_payload(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    async with watching(harness) as watcher:
        chat_id = await harness.create_chat(alice, "Events")
        await harness.add_user(alice, chat_id, bob)
        client_id = str(uuid.uuid4())
        sent = await harness.send(bob, chat_id, "hello 🎉", client_id=client_id)
        await harness.client.post(f"{CHAT}/{chat_id}/leave", headers=bob.headers)
        created, added, message, left = await watcher.wait_for(4)

    assert created.kind is EventKind.CHAT_CREATED
    assert created.chat_id == chat_id
    assert set(created.payload) == {"chat", "member_ids"}
    chat = created.payload["chat"]
    assert set(chat) == {"id", "name", "created_at", "created_by", "direct"}
    assert chat["direct"] is False
    assert (chat["id"], chat["name"], chat["created_by"]) == (chat_id, "Events", alice.id)
    assert iso_utc(chat["created_at"])
    assert created.payload["member_ids"] == [alice.id]
    assert created.recipients == frozenset({alice.id})

    assert added.kind is EventKind.MEMBER_ADDED
    assert added.chat_id == chat_id
    joined_at = added.payload.pop("joined_at")
    line = added.payload.pop("line")
    assert iso_utc(joined_at)
    assert added.payload == {"user": {"id": bob.id, "nickname": "Bob"}, "added_by": alice.id}
    assert (line["kind"], line["sender_id"], line["text"]) == ("joined", bob.id, "")
    added.payload["joined_at"] = joined_at
    added.payload["line"] = line
    # Each event names the members when it committed: who may receive it.
    assert added.recipients == frozenset({alice.id, bob.id})
    assert message.recipients == frozenset({alice.id, bob.id})

    assert message.kind is EventKind.MESSAGE_ADDED
    assert message.chat_id == chat_id
    payload = message.payload["message"]
    assert set(message.payload) == {"message"}
    assert payload == {
        "id": sent["id"],
        "chat_id": chat_id,
        "sender_id": bob.id,
        "sender_nickname": "Bob",
        "text": "hello 🎉",
        "created_at": sent["date_sent"],
        "client_id": client_id,
        "edited_at": None,
        "deleted_at": None,
        "reply_to": None,
        "reactions": [],
        "kind": None,
    }
    assert iso_utc(payload["created_at"])

    assert left.kind is EventKind.MEMBER_LEFT
    assert left.payload["user"] == {"id": bob.id, "nickname": "Bob"}
    assert left.payload["line"]["kind"] == "left"
    assert left.recipients == frozenset({alice.id, bob.id})  # the leaver learns it too
    # Every event survives the trip through JSON (the Redis broker sends them that way).
    for event in (created, added, message, left):
        assert Event.from_json(event.to_json()) == event


async def test_chat_created_through_the_internal_api_names_every_member(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person
) -> None:
    async with watching(harness) as watcher:
        response = await harness.client.post(
            "/internal/chats",
            json={"name": "Trio", "member_nicknames": ["carol", "Bob", "Alice"]},
            headers=alice.headers,
        )
        assert response.status_code == 200
        [created] = await watcher.wait_for(1)
    assert created.kind is EventKind.CHAT_CREATED
    assert created.payload["member_ids"] == [alice.id, *sorted([bob.id, carol.id])]


async def test_failed_writes_publish_nothing(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    async with watching(harness) as watcher:
        failures = [
            ("/message", {"text": ""}, alice),  # invalid
            ("/message", {"text": "x" * 5000}, alice),  # too long
            ("/add-user", {"nickname": "Bob"}, alice),  # already a member
            ("/add-user", {"nickname": "Nobody"}, alice),  # unknown nickname
        ]
        for suffix, body, person in failures:
            response = await harness.client.post(
                f"{CHAT}/{chat_id}{suffix}", json=body, headers=person.headers
            )
            assert response.status_code >= 400
        stranger = await harness.register("Stranger")
        for suffix in ("/message", "/leave", "/add-user"):
            response = await harness.client.post(
                f"{CHAT}/{chat_id}{suffix}",
                json={"text": "x", "nickname": "Alice"},
                headers=stranger.headers,
            )
            assert response.status_code == 403
        # A successful write afterwards is the first and only event.
        await harness.send(alice, chat_id, "ok")
        [only] = await watcher.wait_for(1)
        await asyncio.sleep(0.05)
        assert len(watcher.events) == 1
    assert only.kind is EventKind.MESSAGE_ADDED


async def test_a_replayed_send_publishes_its_message_again(
    harness: ChatHarness, alice: Person
) -> None:
    """The first event may have died with a process killed between COMMIT and publish (the
    sender then retries): the replay publishes the same message again; subscribers drop what
    they already have by id (tests/gateway/test_redelivery.py)."""
    chat_id = await harness.create_chat(alice)
    client_id = str(uuid.uuid4())
    async with watching(harness) as watcher:
        await harness.send(alice, chat_id, "once", client_id=client_id)
        await harness.send(alice, chat_id, "once", client_id=client_id)
        await harness.send(alice, chat_id, "twice")
        await watcher.wait_for(3)
        await asyncio.sleep(0.05)
    messages = [e.payload["message"] for e in watcher.events]
    assert [m["text"] for m in messages] == ["once", "once", "twice"]
    assert messages[0]["id"] == messages[1]["id"]


class RecordingBroker(MemoryBroker):
    """A memory broker that keeps a list of what was published, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.published.append(event)
        await super().publish(event)


async def test_unit_of_work_publishes_only_after_commit(settings: Settings) -> None:
    broker = RecordingBroker()
    app = create_app(settings, broker=broker)
    async with app.router.lifespan_context(app):
        res: ServiceResources = app.state.res
        event = Event(EventKind.CHAT_CREATED, 1, {})

        async def emit_then_fail() -> None:
            async with unit_of_work(res.engine, broker) as work:
                work.emit(event)
                assert broker.published == []
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await emit_then_fail()
        assert broker.published == []

        async with unit_of_work(res.engine, broker) as work:
            work.emit(event)
            await work.connection.execute(select(1))
            assert broker.published == []  # still inside the transaction
        # Addressed to the chat's members as it committed (chat 1 has none here).
        assert broker.published == [dataclasses.replace(event, recipients=frozenset())]


async def test_a_commit_that_fails_publishes_nothing(harness: ChatHarness, alice: Person) -> None:
    broker = RecordingBroker()
    res: ServiceResources = harness.app.state.res

    async def emit_then_violate_a_foreign_key() -> None:
        async with unit_of_work(res.engine, broker) as work:
            # A membership of a chat that does not exist: the database refuses it.
            work.emit(Event(EventKind.MEMBER_ADDED, 424242, {}))
            await work.connection.execute(
                insert(chat_members).values(chat_id=424242, user_id=alice.id, role="member")
            )

    with pytest.raises(IntegrityError):
        await emit_then_violate_a_foreign_key()
    assert broker.published == []


async def test_app_owns_a_broker_it_made_and_not_one_passed_in(settings: Settings) -> None:
    own = create_app(settings)
    made = own.state.chat.broker
    assert isinstance(made, MemoryBroker)
    async with made.subscribe() as ended:
        async with own.router.lifespan_context(own):
            pass
        # The app closed the broker it made: open subscriptions end.
        assert [event async for event in ended] == []
    # A broker passed in outlives the app's lifespan: the caller closes it.
    passed = MemoryBroker()
    shared = create_app(settings, broker=passed)
    assert shared.state.chat.broker is passed
    async with passed.subscribe() as subscription:
        async with shared.router.lifespan_context(shared):
            pass
        await passed.publish(Event(EventKind.CHAT_CREATED, 7, {}))
        received = await asyncio.wait_for(anext(aiter(subscription)), TIMEOUT)
        assert isinstance(received, Event)
        assert received.chat_id == 7


@pytest.mark.redis
async def test_with_redis_url_the_app_publishes_through_redis(
    settings: Settings, redis_url: str
) -> None:
    redis_settings = settings.model_copy(
        update={"redis_url": redis_url, "send_rate_per_minute": 1000}
    )
    app = create_app(redis_settings)
    assert isinstance(app.state.chat.broker, RedisBroker)
    listener = RedisBroker(redis_url)
    await listener.start()
    try:
        async with (
            app.router.lifespan_context(app),
            listener.subscribe() as subscription,
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
        ):
            auth_app = create_auth_app(redis_settings, hash_parameters=FAST_HASHES)
            async with (
                auth_app.router.lifespan_context(auth_app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(auth_app), base_url="http://t"
                ) as auth,
            ):
                token = (await register_person(auth, "Rita")).token
            created = await client.post(
                f"{CHAT}/", json={"name": "via redis"}, headers={"Authorization": token}
            )
            chat_id = created.json()["chat_id"]

            async def first_for_this_chat() -> Event:
                # Other test runs may share the channel: wait for our chat's event.
                async for event in subscription:
                    if isinstance(event, Event) and event.chat_id == chat_id:
                        return event
                raise AssertionError("subscription ended")

            event = await asyncio.wait_for(first_for_this_chat(), TIMEOUT)
            assert event.kind is EventKind.CHAT_CREATED
            assert event.payload["chat"]["name"] == "via redis"
    finally:
        await listener.close()


class UnreachableBroker(MemoryBroker):
    """A broker whose publish fails, as a Redis that is down after all retries would."""

    async def publish(self, event: Event) -> None:
        raise ConnectionError("broker unreachable")


async def test_a_failed_publish_does_not_undo_the_committed_write(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, broker=UnreachableBroker())
    auth_app = create_auth_app(settings, hash_parameters=FAST_HASHES)
    async with (
        app.router.lifespan_context(app),
        auth_app.router.lifespan_context(auth_app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
        httpx.AsyncClient(transport=httpx.ASGITransport(auth_app), base_url="http://t") as auth,
    ):
        headers = (await register_person(auth, "Alice")).headers
        created = await client.post(f"{CHAT}/", json={"name": "still here"}, headers=headers)
        assert created.status_code == 200
        listed = await client.get(f"{CHAT}/", headers=headers)
        assert [chat["name"] for chat in listed.json()] == ["still here"]
    assert any("could not publish chat_created" in record.message for record in caplog.records)


@pytest.mark.redis
async def test_readiness_follows_its_redis(settings: Settings, private_redis: PrivateRedis) -> None:
    app = create_app(settings.model_copy(update={"redis_url": private_redis.url}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
    ):
        assert (await client.get("/readyz")).status_code == 200
        await private_redis.stop()
        assert (await client.get("/readyz")).status_code == 503
        await private_redis.start()
        async with asyncio.timeout(15):
            while (await client.get("/readyz")).status_code != 200:
                await asyncio.sleep(0.1)


@pytest.mark.redis
async def test_the_chat_service_broker_hears_only_account_events(
    settings: Settings, private_redis: PrivateRedis
) -> None:
    """chat_service reads back none of the chat events it sends, only account events."""
    app = create_app(settings.model_copy(update={"redis_url": private_redis.url}))
    async with app.router.lifespan_context(app):
        broker = app.state.chat.broker
        assert isinstance(broker, RedisBroker)
        await broker.check()
        async with broker.subscribe() as subscription:
            message = {"message": {"id": 1}}
            await broker.publish(Event(EventKind.MESSAGE_ADDED, 1, message))
            revoked = Event(EventKind.SESSIONS_REVOKED, 0, {"user_id": 1, "sessions": {}})
            await broker.publish(revoked)
            first = await asyncio.wait_for(anext(aiter(subscription)), 5)
    assert first == revoked


async def test_a_typing_notice_is_addressed_to_the_chat_members(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person
) -> None:
    """Named recipients let a gateway wake only the members' subscriptions, not every one."""
    chat_id = await harness.create_chat(alice, "Room", bob)
    async with watching(harness) as watcher:
        response = await harness.client.post(
            f"/internal/chats/{chat_id}/typing", json={"typing": True}, headers=bob.headers
        )
        assert response.status_code == 200, response.text
        refused = await harness.client.post(
            f"/internal/chats/{chat_id}/typing", json={"typing": True}, headers=carol.headers
        )
        assert refused.status_code == 403
        unknown = await harness.client.post(
            "/internal/chats/424242/typing", json={"typing": True}, headers=carol.headers
        )
        assert unknown.status_code == 404
        [typing] = await watcher.wait_for(1)
    assert typing.kind is EventKind.TYPING
    assert typing.payload == {"user": {"id": bob.id, "nickname": "Bob"}, "typing": True}
    assert typing.recipients == frozenset({alice.id, bob.id})
    assert Event.from_json(typing.to_json()) == typing
