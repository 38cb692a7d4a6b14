"""Owner actions (rename, remove a member, hand ownership on) and every refusal, with events."""

from __future__ import annotations

from typing import Any

import pytest

from mychat.events import EventKind
from tests.chat_service.conftest import ChatHarness
from tests.chat_service.test_events import watching
from tests.chat_service.test_internal import get, post
from tests.support.people import Person


async def roles(harness: ChatHarness, viewer: Person, chat_id: int) -> dict[str, str]:
    body = await get(harness, viewer, "/members", chat_ids=str(chat_id))
    return {member["nickname"]: member["role"] for member in body["members"][str(chat_id)]}


async def test_rename_by_the_owner(harness: ChatHarness, alice: Person, bob: Person) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    async with watching(harness) as watcher:
        body = await post(harness, alice, f"/chats/{chat_id}/name", {"name": "  Garden "})
        (event,) = await watcher.wait_for(1)
    assert body["chat"]["name"] == "Garden"
    assert event.kind is EventKind.CHAT_RENAMED
    assert event.payload == {
        "chat": {"id": chat_id, "name": "Garden"},
        "previous_name": "Room",
        "by": {"id": alice.id, "nickname": "Alice"},
        "line": event.payload["line"],  # the system line (tests/chat_service/test_system_lines)
    }
    (chat,) = (await get(harness, bob, "/chats/batch", ids=str(chat_id)))["chats"]
    assert chat["name"] == "Garden"


async def test_remove_a_member(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob, carol)
    async with watching(harness) as watcher:
        body = await post(harness, alice, f"/chats/{chat_id}/remove-member", {"user_id": bob.id})
        (event,) = await watcher.wait_for(1)
    assert body == {"chat_id": chat_id, "user_id": bob.id}
    assert event.kind is EventKind.MEMBER_REMOVED
    assert event.payload == {
        "user": {"id": bob.id, "nickname": "Bob"},
        "by": {"id": alice.id, "nickname": "Alice"},
        "line": event.payload["line"],  # the system line (tests/chat_service/test_system_lines)
    }
    assert await roles(harness, alice, chat_id) == {"Alice": "owner", "Carol": "member"}
    # Bob reads and writes nothing there any more.
    await get(harness, bob, f"/chats/{chat_id}/messages", status=403)
    await post(harness, bob, f"/chats/{chat_id}/messages", {"text": "hi"}, status=403)


async def test_hand_ownership_on(harness: ChatHarness, alice: Person, bob: Person) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    async with watching(harness) as watcher:
        body = await post(harness, alice, f"/chats/{chat_id}/owner", {"user_id": bob.id})
        (event,) = await watcher.wait_for(1)
    assert (body["member"]["nickname"], body["member"]["role"]) == ("Bob", "owner")
    assert event.kind is EventKind.OWNER_CHANGED
    assert event.payload == {
        "owner": {"id": bob.id, "nickname": "Bob"},
        "previous_owner": {"id": alice.id, "nickname": "Alice"},
        "reason": "handed_on",
    }
    assert await roles(harness, alice, chat_id) == {"Alice": "member", "Bob": "owner"}
    # Alice is an ordinary member now.
    error = await post(harness, alice, f"/chats/{chat_id}/name", {"name": "Mine"}, status=403)
    assert error["code"] == "not_owner"


async def test_the_oldest_member_owns_the_chat_when_the_owner_leaves(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob, carol)
    async with watching(harness) as watcher:
        await post(harness, alice, f"/chats/{chat_id}/leave")
        left, changed = await watcher.wait_for(2)
    assert left.kind is EventKind.MEMBER_LEFT
    assert changed.kind is EventKind.OWNER_CHANGED
    assert changed.payload == {
        "owner": {"id": bob.id, "nickname": "Bob"},
        "previous_owner": {"id": alice.id, "nickname": "Alice"},
        "reason": "owner_left",
    }
    assert await roles(harness, bob, chat_id) == {"Bob": "owner", "Carol": "member"}


ACTIONS: list[tuple[str, str]] = [
    ("name", "name"),
    ("remove-member", "user_id"),
    ("owner", "user_id"),
]


def _body(field: str, target: Person) -> dict[str, Any]:
    return {"name": "New"} if field == "name" else {"user_id": target.id}


@pytest.mark.parametrize(("action", "field"), ACTIONS)
async def test_only_the_owner(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person, action: str, field: str
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob, carol)
    path = f"/chats/{chat_id}/{action}"
    refused = await post(harness, bob, path, _body(field, carol), status=403)
    assert refused["code"] == "not_owner"
    outsider = await harness.register("Dave")
    refused = await post(harness, outsider, path, _body(field, carol), status=403)
    assert refused["code"] == "not_a_member"
    missing = await post(harness, alice, f"/chats/999999/{action}", _body(field, carol), status=404)
    assert missing["code"] == "not_found"
    assert await roles(harness, alice, chat_id) == {
        "Alice": "owner",
        "Bob": "member",
        "Carol": "member",
    }


@pytest.mark.parametrize("action", ["remove-member", "owner"])
async def test_the_target_must_be_another_member(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person, action: str
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    path = f"/chats/{chat_id}/{action}"
    yourself = await post(harness, alice, path, {"user_id": alice.id}, status=400)
    assert (yourself["code"], yourself["field"]) == ("validation_error", "user_id")
    for stranger in (carol.id, 999999):
        gone = await post(harness, alice, path, {"user_id": stranger}, status=404)
        assert (gone["code"], gone["field"]) == ("not_found", "user_id")
    for bad in ("bob", -1, None, True):
        invalid = await post(harness, alice, path, {"user_id": bad}, status=400)
        assert invalid["field"] == "user_id"


async def test_rename_validates_the_name(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice, "Room")
    for bad in ("", "   ", "x" * 101, 5):
        error = await post(harness, alice, f"/chats/{chat_id}/name", {"name": bad}, status=400)
        assert error["field"] == "name"
