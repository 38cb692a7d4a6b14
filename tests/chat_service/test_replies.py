"""Replies: stored with the quote of the message they answer, as that message is now."""

from __future__ import annotations

from typing import Any

from mychat.events import EventKind
from tests.chat_service.conftest import ChatHarness
from tests.chat_service.test_edits import delete, edit, next_event
from tests.chat_service.test_internal import get, post
from tests.support.people import Person


async def reply(
    harness: ChatHarness, person: Person, chat_id: int, to: Any, status: int = 200
) -> Any:
    body = {"text": "re", "reply_to_id": to}
    return await post(harness, person, f"/chats/{chat_id}/messages", body, status)


async def test_a_reply_carries_the_quote_everywhere(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    original = await harness.send(alice, chat_id, "  first line  \nsecond line")
    async with harness.broker.subscribe() as subscription:
        sent = (await reply(harness, bob, chat_id, original["id"]))["message"]
        event = await next_event(subscription)
    quote = {
        "id": original["id"],
        "sender_id": alice.id,
        "sender_nickname": "Alice",
        "text": "first line",
        "deleted_at": None,
    }
    assert sent["reply_to"] == quote
    assert event.kind is EventKind.MESSAGE_ADDED
    assert event.payload["message"]["reply_to"] == quote
    page = await get(harness, alice, f"/chats/{chat_id}/messages")
    # "Bob joined" (a system line), the original, the reply.
    assert [message["reply_to"] for message in page["messages"]] == [None, None, quote]
    caught_up = await get(harness, alice, "/messages", after=original["id"])
    assert caught_up["messages"][0]["reply_to"] == quote
    last = await get(harness, alice, "/last-messages", chat_ids=str(chat_id))
    assert last["messages"][str(chat_id)]["reply_to"] == quote
    # The REST history keeps the seed's shape.
    assert "reply_to" not in (await harness.history(alice, chat_id))[1]


async def test_the_quote_follows_edits_and_shows_the_tombstone(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    original = await harness.send(alice, chat_id, "typo")
    await reply(harness, bob, chat_id, original["id"])
    await edit(harness, alice, original["id"], "fixed " + "x" * 300)
    page = await get(harness, bob, f"/chats/{chat_id}/messages")
    quoted = page["messages"][-1]["reply_to"]["text"]
    assert quoted.startswith("fixed x")
    assert len(quoted) == 200
    await delete(harness, alice, original["id"])
    page = await get(harness, bob, f"/chats/{chat_id}/messages")
    tombstone = page["messages"][-1]["reply_to"]
    assert tombstone["text"] == ""
    assert tombstone["deleted_at"] is not None
    # A reply to a deleted message is allowed, and quotes the tombstone.
    again = (await reply(harness, bob, chat_id, original["id"]))["message"]
    assert again["reply_to"]["deleted_at"] is not None


async def test_a_reply_answers_a_message_of_its_own_chat(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    elsewhere = await harness.create_chat(alice, "Other")
    other = await harness.send(alice, elsewhere, "not here")
    refused = await reply(harness, bob, chat_id, other["id"], 404)
    assert refused["field"] == "reply_to_id"
    assert (await reply(harness, bob, chat_id, 10**12, 404))["field"] == "reply_to_id"
    assert (await reply(harness, bob, chat_id, "1", 400))["field"] == "reply_to_id"
    assert await harness.message_count() == 2  # "Bob joined", "not here"
