"""Reactions: validated emoji, toggled per person, the summary in reads and events, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from chat_service.reactions import check_emoji
from mychat.events import EventKind
from mychat.http import ApiError
from tests.chat_service.conftest import ChatHarness
from tests.chat_service.test_edits import delete, next_event
from tests.chat_service.test_internal import get, post
from tests.support.people import Person

EMOJI = [
    "👍",
    "❤️",
    "👍🏽",  # skin tone
    "👨‍👩‍👧‍👦",  # ZWJ sequence (7 code points)
    "🇺🇦",  # flag: two regional indicators
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿",  # subdivision flag: tags
    "1️⃣",  # keycap
    "☕",
    "🎉🎉",  # a short run is one reaction
]
NOT_EMOJI = ["", "  ", "a", "ok", "<b>", "👍a", "\u200d👍", "\ufe0f", "1", "😀" * 17, "👍 👍"]


@pytest.mark.parametrize("emoji", EMOJI)
def test_emoji_are_accepted(emoji: str) -> None:
    assert check_emoji(f" {emoji} ") == emoji


@pytest.mark.parametrize("value", NOT_EMOJI)
def test_anything_else_is_refused(value: str) -> None:
    with pytest.raises(ApiError) as refused:
        check_emoji(value)
    assert refused.value.field == "emoji"


async def react(
    harness: ChatHarness, person: Person, message_id: int, emoji: Any, status: int = 200
) -> Any:
    return await post(
        harness, person, f"/messages/{message_id}/reactions", {"emoji": emoji}, status
    )


async def test_toggles_per_person_with_counts_and_names(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    sent = await harness.send(alice, chat_id, "pizza?")
    await react(harness, alice, sent["id"], "👍")
    async with harness.broker.subscribe() as subscription:
        body = await react(harness, bob, sent["id"], "👍")
        event = await next_event(subscription)
    summary = [
        {
            "emoji": "👍",
            "count": 2,
            "users": [{"id": alice.id, "nickname": "Alice"}, {"id": bob.id, "nickname": "Bob"}],
        }
    ]
    assert body["message"]["reactions"] == summary
    assert event.kind is EventKind.REACTIONS_CHANGED
    assert event.chat_id == chat_id
    assert event.payload["message"]["reactions"] == summary
    await react(harness, bob, sent["id"], "🎉")
    # Toggling again takes it back.
    after = (await react(harness, alice, sent["id"], "👍"))["message"]["reactions"]
    assert [(r["emoji"], r["count"]) for r in after] == [("👍", 1), ("🎉", 1)]
    page = await get(harness, bob, f"/chats/{chat_id}/messages")
    assert page["messages"][-1]["reactions"] == after
    caught_up = await get(harness, bob, "/messages", after=sent["id"] - 1)
    assert caught_up["messages"][0]["reactions"] == after
    last = await get(harness, bob, "/last-messages", chat_ids=str(chat_id))
    assert last["messages"][str(chat_id)]["reactions"] == after
    # The REST history keeps the seed's shape.
    assert "reactions" not in (await harness.history(alice, chat_id))[0]


async def test_refusals(harness: ChatHarness, alice: Person, bob: Person, carol: Person) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    sent = await harness.send(alice, chat_id, "hi")
    assert (await react(harness, bob, sent["id"], "nope", 400))["field"] == "emoji"
    assert (await react(harness, bob, sent["id"], 5, 400))["field"] == "emoji"
    assert (await react(harness, carol, sent["id"], "👍", 403))["code"] == "not_a_member"
    assert (await react(harness, bob, 10**12, "👍", 404))["code"] == "not_found"
    await react(harness, bob, sent["id"], "👍")
    await delete(harness, alice, sent["id"])
    assert (await react(harness, bob, sent["id"], "👍", 409))["code"] == "already_deleted"
    page = await get(harness, bob, f"/chats/{chat_id}/messages")
    assert page["messages"][-1]["reactions"] == []  # a tombstone keeps none


async def test_one_person_has_at_most_twenty_on_a_message(
    harness: ChatHarness, alice: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    sent = await harness.send(alice, chat_id, "react away")
    faces = [chr(0x1F600 + offset) for offset in range(21)]
    for face in faces[:20]:
        await react(harness, alice, sent["id"], face)
    assert (await react(harness, alice, sent["id"], faces[20], 400))["field"] == "emoji"
    await react(harness, alice, sent["id"], faces[0])  # taking one back is always allowed
