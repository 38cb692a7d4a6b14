"""System lines ("X joined", "X left") stay in the history, in order, and are nobody's to change."""

from __future__ import annotations

from mychat.events import EventKind
from tests.chat_service.conftest import ChatHarness
from tests.chat_service.test_edits import delete, edit, next_event
from tests.chat_service.test_internal import get, post
from tests.chat_service.test_reactions import react
from tests.chat_service.test_replies import reply
from tests.support.people import Person


async def test_joins_and_leaves_are_kept_in_order_and_published(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    await harness.send(alice, chat_id, "before")
    async with harness.broker.subscribe() as subscription:
        await harness.add_user(alice, chat_id, bob)
        added = await next_event(subscription)
    await harness.send(bob, chat_id, "hi all")
    await harness.add_user(alice, chat_id, carol)
    async with harness.broker.subscribe() as subscription:
        await post(harness, carol, f"/chats/{chat_id}/leave")
        left = await next_event(subscription)
    page = await get(harness, alice, f"/chats/{chat_id}/messages")
    assert [(m["kind"], m["sender_nickname"], m["text"]) for m in page["messages"]] == [
        (None, "Alice", "before"),
        ("joined", "Bob", ""),
        (None, "Bob", "hi all"),
        ("joined", "Carol", ""),
        ("left", "Carol", ""),
    ]
    assert added.kind is EventKind.MEMBER_ADDED
    assert added.payload["line"]["id"] == page["messages"][1]["id"]
    assert added.payload["line"]["kind"] == "joined"
    assert left.kind is EventKind.MEMBER_LEFT
    assert left.payload["line"]["kind"] == "left"
    assert left.payload["line"]["id"] == page["messages"][4]["id"]
    # Catch-up replays them too.
    caught_up = await get(harness, alice, "/messages", after=page["messages"][0]["id"])
    assert [m["kind"] for m in caught_up["messages"]] == ["joined", None, "joined", "left"]
    # The REST history shows what people wrote only (mychat/openapi.json).
    assert [m["text"] for m in await harness.history(alice, chat_id)] == ["before", "hi all"]
    # Never unread, never the chat's last message.
    chats = await get(harness, alice, "/chats/batch", ids=str(chat_id))
    assert chats["chats"][0]["unread_count"] == 1  # Bob's "hi all"
    assert chats["chats"][0]["last_message_id"] == page["messages"][2]["id"]


async def test_a_system_line_is_nobodys_to_change(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    await harness.add_user(alice, chat_id, bob)
    page = await get(harness, bob, f"/chats/{chat_id}/messages")
    line = page["messages"][0]
    assert line["kind"] == "joined"
    assert line["sender_id"] == bob.id
    assert (await edit(harness, bob, line["id"], "I was here", 404))["code"] == "not_found"
    assert (await delete(harness, bob, line["id"], 404))["code"] == "not_found"
    assert (await react(harness, bob, line["id"], "👍", 404))["code"] == "not_found"
    assert (await reply(harness, bob, chat_id, line["id"], 404))["field"] == "reply_to_id"


async def test_a_removal_and_a_rename_are_kept_too(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Old name", bob)
    async with harness.broker.subscribe() as subscription:
        await post(harness, alice, f"/chats/{chat_id}/name", {"name": "New name"})
        renamed = await next_event(subscription)
    await post(harness, alice, f"/chats/{chat_id}/remove-member", {"user_id": bob.id})
    page = await get(harness, alice, f"/chats/{chat_id}/messages")
    assert [(m["kind"], m["sender_nickname"], m["text"]) for m in page["messages"]] == [
        ("joined", "Bob", ""),
        ("renamed", "Alice", "New name"),
        ("removed", "Bob", "Alice"),  # text: the owner who removed them
    ]
    assert renamed.payload["line"]["id"] == page["messages"][1]["id"]
    # A new name is not something anyone wrote: search does not find it.
    found = await get(harness, alice, "/search", q="New")
    assert found["messages"] == []
