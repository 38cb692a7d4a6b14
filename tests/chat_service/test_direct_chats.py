"""Direct chats: one per pair (even when both start it at once), named after the other person."""

from __future__ import annotations

import asyncio

from mychat.events import EventKind
from tests.chat_service.conftest import ChatHarness
from tests.chat_service.test_events import watching
from tests.chat_service.test_internal import get, post
from tests.support.people import Person


async def test_start_a_direct_chat_named_after_the_other_person(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    async with watching(harness) as watcher:
        body = await post(harness, alice, "/direct-chats", {"nickname": " bob "})
        (event,) = await watcher.wait_for(1)
    assert body["created"] is True
    chat = body["chat"]
    assert chat["direct"] is True
    assert chat["name"] == "Bob"
    assert chat["peer"] == {"id": bob.id, "nickname": "Bob"}
    assert event.kind is EventKind.CHAT_CREATED
    assert sorted(event.payload["member_ids"]) == sorted([alice.id, bob.id])
    (seen_by_bob,) = (await get(harness, bob, "/chats"))["chats"]
    assert (seen_by_bob["name"], seen_by_bob["peer"]["id"]) == ("Alice", alice.id)
    assert (await get(harness, alice, "/chats"))["chats"][0]["name"] == "Bob"
    page = await get(harness, bob, f"/chats/{chat['id']}/messages", with_chat=1, unread=0)
    assert page["chat"]["name"] == "Alice"
    # The REST list (seed contract) shows the stored name.
    seed = await harness.client.get("/mychat/api/chat/", headers=alice.headers)
    assert seed.json()[0]["name"] == "Alice & Bob"


async def test_one_per_pair_from_either_side(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    first = await post(harness, alice, "/direct-chats", {"nickname": "Bob"})
    again = await post(harness, bob, "/direct-chats", {"nickname": "alice"})
    assert again["created"] is False
    assert again["chat"]["id"] == first["chat"]["id"]
    assert again["chat"]["name"] == "Alice"
    assert len((await get(harness, alice, "/chats"))["chats"]) == 1


async def test_both_start_it_at_the_same_moment(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    answers = await asyncio.gather(
        *(
            post(harness, person, "/direct-chats", {"nickname": other.nickname})
            for person, other in [(alice, bob), (bob, alice)] * 3
        )
    )
    assert len({answer["chat"]["id"] for answer in answers}) == 1
    assert sum(answer["created"] for answer in answers) == 1
    members = await get(harness, alice, "/members", chat_ids=str(answers[0]["chat"]["id"]))
    assert len(members["members"][str(answers[0]["chat"]["id"])]) == 2


async def test_starting_it_again_brings_back_who_left(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = (await post(harness, alice, "/direct-chats", {"nickname": "Bob"}))["chat"]["id"]
    await post(harness, bob, f"/chats/{chat_id}/leave")
    async with watching(harness) as watcher:
        again = await post(harness, alice, "/direct-chats", {"nickname": "Bob"})
        (event,) = await watcher.wait_for(1)
    assert again["chat"]["id"] == chat_id
    assert event.kind is EventKind.MEMBER_ADDED
    assert event.payload["user"] == {"id": bob.id, "nickname": "Bob"}
    assert (await get(harness, bob, "/chats"))["chats"][0]["id"] == chat_id


async def test_refusals(harness: ChatHarness, alice: Person, bob: Person, carol: Person) -> None:
    yourself = await post(harness, alice, "/direct-chats", {"nickname": "Alice"}, status=400)
    assert (yourself["code"], yourself["field"]) == ("validation_error", "nickname")
    unknown = await post(harness, alice, "/direct-chats", {"nickname": "nobody"}, status=404)
    assert unknown["code"] == "not_found"
    empty = await post(harness, alice, "/direct-chats", {"nickname": " "}, status=400)
    assert empty["field"] == "nickname"
    chat_id = (await post(harness, alice, "/direct-chats", {"nickname": "Bob"}))["chat"]["id"]
    for path, body in [
        (f"/chats/{chat_id}/members", {"nickname": "Carol"}),
        (f"/chats/{chat_id}/name", {"name": "Ours"}),
        (f"/chats/{chat_id}/remove-member", {"user_id": bob.id}),
        (f"/chats/{chat_id}/owner", {"user_id": bob.id}),
    ]:
        refused = await post(harness, alice, path, body, status=403)
        assert refused["code"] == "direct_chat", path
    # Through the REST compatibility API too.
    rest = await harness.client.post(
        f"/mychat/api/chat/{chat_id}/add-user", json={"nickname": "Carol"}, headers=alice.headers
    )
    assert rest.status_code == 403
