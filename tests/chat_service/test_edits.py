"""Editing and deleting one's own message: stored, published after commit, and every refusal."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from mychat.events import Event, EventKind
from mychat.tables import MESSAGE_TEXT_MAX, messages
from tests.chat_service.conftest import ChatHarness
from tests.chat_service.test_internal import post
from tests.support.people import Person
from tests.support.seed_contract import SEED_MESSAGE_KEYS


async def edit(
    harness: ChatHarness, person: Person, message_id: int, text: str, status: int = 200
) -> Any:
    return await post(harness, person, f"/messages/{message_id}/edit", {"text": text}, status)


async def delete(harness: ChatHarness, person: Person, message_id: int, status: int = 200) -> Any:
    return await post(harness, person, f"/messages/{message_id}/delete", None, status)


async def next_event(subscription: Any) -> Event:
    while True:
        item = await asyncio.wait_for(anext(aiter(subscription)), 5)
        if isinstance(item, Event):
            return item


async def stored_text(harness: ChatHarness, message_id: int) -> str:
    async with harness.autocommit_engine.connect() as connection:
        text = await connection.scalar(select(messages.c.text).where(messages.c.id == message_id))
    assert isinstance(text, str)
    return text


async def test_edit_changes_the_text_everywhere_and_publishes_it(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    sent = await harness.send(alice, chat_id, "helo")
    async with harness.broker.subscribe() as subscription:
        body = await edit(harness, alice, sent["id"], "  hello  ")
        event = await next_event(subscription)
    message = body["message"]
    assert message["text"] == "hello"
    assert message["edited_at"] is not None
    assert message["deleted_at"] is None
    assert event.kind is EventKind.MESSAGE_EDITED
    assert event.chat_id == chat_id
    assert event.payload["message"]["text"] == "hello"
    assert event.payload["message"]["edited_at"].endswith("+00:00")
    # REST history (the seed's shape, unchanged) shows the current text.
    (item,) = await harness.history(bob, chat_id)
    assert item["text"] == "hello"
    assert set(item) == SEED_MESSAGE_KEYS


async def test_delete_erases_the_text_and_keeps_a_tombstone(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    sent = await harness.send(alice, chat_id, "a secret")
    await harness.send(bob, chat_id, "after it")
    async with harness.broker.subscribe() as subscription:
        body = await delete(harness, alice, sent["id"])
        event = await next_event(subscription)
    assert body["message"]["text"] == ""
    assert body["message"]["deleted_at"] is not None
    assert event.kind is EventKind.MESSAGE_DELETED
    assert event.payload["message"]["text"] == ""
    assert event.payload["message"]["deleted_at"]
    assert await stored_text(harness, sent["id"]) == ""  # gone from the database, not hidden
    history = await harness.history(bob, chat_id)
    assert [item["text"] for item in history] == ["", "after it"]


async def test_only_the_author_changes_a_message(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    sent = await harness.send(alice, chat_id, "mine")
    refused = await edit(harness, bob, sent["id"], "yours now", 403)
    assert refused["code"] == "not_the_author"
    assert (await delete(harness, bob, sent["id"], 403))["code"] == "not_the_author"
    # Outside the chat: not a member; an unknown id: not found.
    assert (await edit(harness, carol, sent["id"], "x", 403))["code"] == "not_a_member"
    assert (await delete(harness, carol, sent["id"], 403))["code"] == "not_a_member"
    assert (await edit(harness, alice, 10**12, "x", 404))["code"] == "not_found"
    assert (await delete(harness, alice, 0, 404))["code"] == "not_found"
    assert await stored_text(harness, sent["id"]) == "mine"


async def test_a_deleted_message_cannot_change_again(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice)
    sent = await harness.send(alice, chat_id, "once")
    await delete(harness, alice, sent["id"])
    assert (await delete(harness, alice, sent["id"], 409))["code"] == "already_deleted"
    assert (await edit(harness, alice, sent["id"], "again", 409))["code"] == "already_deleted"


async def test_edit_has_the_limits_of_a_send(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice)
    sent = await harness.send(alice, chat_id, "short")
    too_long = await edit(harness, alice, sent["id"], "x" * (MESSAGE_TEXT_MAX + 1), 400)
    assert too_long["field"] == "text"
    assert (await edit(harness, alice, sent["id"], "   ", 400))["field"] == "text"
    assert (await post(harness, alice, f"/messages/{sent['id']}/edit", {}, 400))["field"] == "text"
    assert await stored_text(harness, sent["id"]) == "short"
    await edit(harness, alice, sent["id"], "x" * MESSAGE_TEXT_MAX)
