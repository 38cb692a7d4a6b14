"""The internal endpoints the gateway calls: answers as documented, and their failures."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from mychat.tokens import TokenCodec
from tests.chat_service.conftest import ChatHarness
from tests.support.env import TEST_JWT_SECRET
from tests.support.people import Person


async def get(
    harness: ChatHarness, person: Person, path: str, status: int = 200, **params: Any
) -> Any:
    response = await harness.client.get(f"/internal{path}", params=params, headers=person.headers)
    assert response.status_code == status, response.text
    return response.json()


async def post(
    harness: ChatHarness, person: Person, path: str, body: Any = None, status: int = 200
) -> Any:
    response = await harness.client.post(f"/internal{path}", json=body, headers=person.headers)
    assert response.status_code == status, response.text
    return response.json()


CHAT_KEYS = {
    "id",
    "name",
    "created_at",
    "created_by",
    "last_activity_at",
    "last_message_id",
    "my_role",
    "unread_count",
    "direct",
    "peer",
}
MESSAGE_KEYS = {
    "id",
    "chat_id",
    "sender_id",
    "sender_nickname",
    "text",
    "created_at",
    "client_id",
    "edited_at",
    "deleted_at",
    "reply_to",
    "reactions",
    "kind",
}


async def test_create_chat_with_members(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person
) -> None:
    body = await post(
        harness, alice, "/chats", {"name": " Team ", "member_nicknames": ["bob", "Carol", "Bob"]}
    )
    chat = body["chat"]
    assert set(chat) == CHAT_KEYS
    assert chat["name"] == "Team"
    assert chat["created_by"] == alice.id
    assert chat["my_role"] == "owner"
    assert chat["unread_count"] == 0
    assert chat["last_message_id"] is None
    assert chat["created_at"].endswith("+00:00")
    members = await get(harness, bob, "/members", chat_ids=str(chat["id"]))
    assert [(m["nickname"], m["role"]) for m in members["members"][str(chat["id"])]] == [
        ("Alice", "owner"),
        ("Bob", "member"),
        ("Carol", "member"),
    ]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "x", "member_nicknames": ["Nobody"]}, 404, "member_nicknames"),
        ({"name": "x", "member_nicknames": "Bob"}, 400, "member_nicknames"),
        ({"name": "x", "member_nicknames": [1]}, 400, "member_nicknames"),
        ({"name": "x", "member_nicknames": ["u"] * 101}, 400, "member_nicknames"),
        ({"name": ""}, 400, "name"),
        ({"name": "y" * 101}, 400, "name"),
        ({"member_nicknames": []}, 400, "name"),
    ],
)
async def test_create_chat_failures(
    harness: ChatHarness, alice: Person, body: dict[str, Any], status: int, field: str
) -> None:
    error = await post(harness, alice, "/chats", body, status=status)
    assert error["field"] == field
    assert set(error) == {"error", "code", "field"}
    assert await get(harness, alice, "/chat-ids") == {"chat_ids": []}


async def test_chats_page_by_newest_activity_with_a_cursor(
    harness: ChatHarness, alice: Person
) -> None:
    ids = [await harness.create_chat(alice, f"chat {n}") for n in range(5)]
    await harness.send(alice, ids[1], "bump")  # chat 1 becomes the most recently active
    expected = [ids[1], ids[4], ids[3], ids[2], ids[0]]
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"first": 2}
        if cursor is not None:
            params["after"] = cursor
        page = await get(harness, alice, "/chats", **params)
        seen += [chat["id"] for chat in page["chats"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert (await get(harness, alice, "/chats"))["chats"][0]["last_message_id"] is not None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"first": "0"}, "first"),
        ({"first": "101"}, "first"),
        ({"first": "x"}, "first"),
        ({"after": "not-a-cursor"}, "after"),
        ({"after": "%%%"}, "after"),
    ],
)
async def test_chats_page_failures(
    harness: ChatHarness, alice: Person, params: dict[str, str], field: str
) -> None:
    await harness.create_chat(alice)
    error = await get(harness, alice, "/chats", status=400, **params)
    assert error["code"] == "validation_error"
    assert error["field"] == field


async def test_batch_and_chat_ids_show_only_my_chats(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    mine = await harness.create_chat(alice, "mine")
    shared = await harness.create_chat(bob, "shared", alice)
    theirs = await harness.create_chat(bob, "theirs")
    batch = await get(harness, alice, "/chats/batch", ids=f"{shared},{theirs},{mine},999")
    assert [chat["id"] for chat in batch["chats"]] == [shared, mine]
    assert [chat["my_role"] for chat in batch["chats"]] == ["member", "owner"]
    assert await get(harness, alice, "/chat-ids") == {"chat_ids": sorted([mine, shared])}
    assert (await get(harness, alice, "/chats/batch", ids=""))["chats"] == []


@pytest.mark.parametrize("path", ["/chats/batch", "/members", "/last-messages"])
@pytest.mark.parametrize("ids", [None, "1,x", "1,-2", "1;2", ",".join(["1"] * 501)])
async def test_id_lists_are_validated(
    harness: ChatHarness, alice: Person, path: str, ids: str | None
) -> None:
    name = "ids" if path == "/chats/batch" else "chat_ids"
    params = {} if ids is None else {name: ids}
    error = await get(harness, alice, path, status=400, **params)
    assert error["field"] == name


async def test_members_leave_out_chats_i_am_not_in(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    mine = await harness.create_chat(alice, "mine", bob)
    theirs = await harness.create_chat(bob, "theirs")
    body = await get(harness, alice, "/members", chat_ids=f"{mine},{theirs}")
    assert list(body["members"]) == [str(mine)]
    member = body["members"][str(mine)][1]
    assert set(member) == {"user_id", "nickname", "role", "joined_at", "last_read_message_id"}
    assert (member["user_id"], member["nickname"], member["role"]) == (bob.id, "Bob", "member")


async def test_last_messages(harness: ChatHarness, alice: Person, bob: Person) -> None:
    quiet = await harness.create_chat(alice, "quiet")
    busy = await harness.create_chat(alice, "busy")
    theirs = await harness.create_chat(bob, "theirs")
    await harness.send(bob, theirs, "private")
    await harness.send(alice, busy, "one")
    last = await harness.send(alice, busy, "two")
    body = await get(harness, alice, "/last-messages", chat_ids=f"{quiet},{busy},{theirs}")
    assert body["messages"][str(quiet)] is None
    assert body["messages"][str(busy)]["id"] == last["id"]
    assert set(body["messages"][str(busy)]) == MESSAGE_KEYS
    assert str(theirs) not in body["messages"]


async def test_chat_list_with_last_messages(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    """`?last_message=1`: each chat of the page with what /last-messages gives for it."""
    quiet = await harness.create_chat(alice, "quiet")
    busy = await harness.create_chat(alice, "busy", bob)
    await harness.send(alice, busy, "one")
    await harness.send(bob, busy, "two")
    plain = await get(harness, alice, "/chats", first=5)
    assert all("last_message" not in chat for chat in plain["chats"])
    listed = await get(harness, alice, "/chats", first=5, last_message=1)
    last = await get(harness, alice, "/last-messages", chat_ids=f"{quiet},{busy}")
    assert [chat["id"] for chat in listed["chats"]] == [busy, quiet]
    for chat in listed["chats"]:
        assert chat["last_message"] == last["messages"][str(chat["id"])]
        assert {key: value for key, value in chat.items() if key != "last_message"} in plain[
            "chats"
        ]
    assert listed["chats"][0]["last_message"]["text"] == "two"


async def test_chat_messages_page_both_ways(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice)
    ids = [(await harness.send(alice, chat_id, str(n)))["id"] for n in range(7)]

    def page_ids(body: dict[str, Any]) -> list[int]:
        return [m["id"] for m in body["messages"]]

    newest = await get(harness, alice, f"/chats/{chat_id}/messages", last=3)
    assert (page_ids(newest), newest["has_more"]) == (ids[-3:], True)
    older = await get(harness, alice, f"/chats/{chat_id}/messages", last=3, before=ids[-3])
    assert (page_ids(older), older["has_more"]) == (ids[1:4], True)
    oldest = await get(harness, alice, f"/chats/{chat_id}/messages", last=3, before=ids[1])
    assert (page_ids(oldest), oldest["has_more"]) == (ids[:1], False)
    forward = await get(harness, alice, f"/chats/{chat_id}/messages", first=4, after=ids[1])
    assert (page_ids(forward), forward["has_more"]) == (ids[2:6], True)
    rest = await get(harness, alice, f"/chats/{chat_id}/messages", first=4, after=ids[5])
    assert (page_ids(rest), rest["has_more"]) == (ids[6:], False)
    everything = await get(harness, alice, f"/chats/{chat_id}/messages")
    assert (page_ids(everything), everything["has_more"]) == (ids, False)
    assert set(everything["messages"][0]) == MESSAGE_KEYS


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"last": "501"}, 400),
        ({"first": "0"}, 400),
        ({"first": "2", "before": "5"}, 400),
        ({"after": "x"}, 400),
        ({"before": "-1"}, 400),
    ],
)
async def test_chat_messages_failures(
    harness: ChatHarness, alice: Person, params: dict[str, str], status: int
) -> None:
    chat_id = await harness.create_chat(alice)
    error = await get(harness, alice, f"/chats/{chat_id}/messages", status=status, **params)
    assert error["code"] == "validation_error"


async def test_chat_messages_of_someone_elses_or_no_chat(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    theirs = await harness.create_chat(bob)
    assert (await get(harness, alice, f"/chats/{theirs}/messages", status=403))[
        "code"
    ] == "not_a_member"
    assert (await get(harness, alice, "/chats/424242/messages", status=404))["code"] == "not_found"
    assert (await get(harness, alice, "/chats/abc/messages", status=404))["code"] == "not_found"


async def test_chat_messages_with_the_chat(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    sent = [await harness.send(bob, chat_id, f"m{i}") for i in range(3)]
    path = f"/chats/{chat_id}/messages"
    body = await get(harness, alice, path, last=2, with_chat=1)
    batch = await get(harness, alice, "/chats/batch", ids=str(chat_id))
    assert body["chat"] == batch["chats"][0]
    assert body["chat"]["unread_count"] == 3
    assert [m["id"] for m in body["messages"]] == [m["id"] for m in sent[1:]]
    assert body["has_more"] is True
    without_count = await get(harness, alice, path, last=2, with_chat=1, unread=0)
    assert without_count["chat"]["unread_count"] is None
    assert set(without_count["chat"]) == CHAT_KEYS
    plain = await get(harness, alice, path, last=2)
    assert "chat" not in plain
    theirs = await harness.create_chat(bob)
    error = await get(harness, alice, f"/chats/{theirs}/messages", 403, with_chat=1)
    assert error["code"] == "not_a_member"
    error = await get(harness, alice, "/chats/424242/messages", 404, with_chat=1)
    assert error["code"] == "not_found"


async def test_messages_after_cover_all_my_chats_only(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    one = await harness.create_chat(alice, "one")
    two = await harness.create_chat(bob, "two", alice)
    other = await harness.create_chat(bob, "other")
    start = await harness.send(alice, one, "before the cursor")
    a = await harness.send(alice, one, "a")
    await harness.send(bob, other, "not for alice")
    b = await harness.send(bob, two, "b")
    c = await harness.send(alice, one, "c")
    body = await get(harness, alice, "/messages", after=start["id"])
    assert [m["id"] for m in body["messages"]] == [a["id"], b["id"], c["id"]]
    assert body["has_more"] is False
    limited = await get(harness, alice, "/messages", after=start["id"], limit=2)
    assert [m["id"] for m in limited["messages"]] == [a["id"], b["id"]]
    assert limited["has_more"] is True
    for params in (
        {},
        {"after": "x"},
        {"after": "1", "limit": "501"},
        {"after": "1", "limit": "0"},
    ):
        await get(harness, alice, "/messages", status=400, **params)


async def test_add_member(harness: ChatHarness, alice: Person, bob: Person) -> None:
    chat_id = await harness.create_chat(alice)
    body = await post(harness, alice, f"/chats/{chat_id}/members", {"nickname": "BOB"})
    member = body["member"]
    assert (member["user_id"], member["nickname"], member["role"]) == (bob.id, "Bob", "member")
    assert member["joined_at"].endswith("+00:00")
    # Internal errors use the {"error", "code"} shape, not the seed's add-user shape.
    again = await post(harness, alice, f"/chats/{chat_id}/members", {"nickname": "Bob"}, status=409)
    assert again == {"error": "Bob is already a member of this chat", "code": "already_a_member"}
    unknown = await post(
        harness, alice, f"/chats/{chat_id}/members", {"nickname": "Zed"}, status=404
    )
    assert unknown["code"] == "not_found"
    missing = await post(harness, alice, f"/chats/{chat_id}/members", {}, status=400)
    assert missing["field"] == "nickname"
    stranger = await harness.register("Stranger")
    forbidden = await post(
        harness, stranger, f"/chats/{chat_id}/members", {"nickname": "Stranger"}, status=403
    )
    assert forbidden["code"] == "not_a_member"


async def test_leave(harness: ChatHarness, alice: Person, bob: Person) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    assert await post(harness, bob, f"/chats/{chat_id}/leave") == {"chat_id": chat_id}
    assert (await post(harness, bob, f"/chats/{chat_id}/leave", status=403))[
        "code"
    ] == "not_a_member"
    assert (await post(harness, bob, "/chats/424242/leave", status=404))["code"] == "not_found"


async def test_send_reports_whether_it_created(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    client_id = str(uuid.uuid4())
    first = await post(
        harness, alice, f"/chats/{chat_id}/messages", {"text": "hi", "client_id": client_id}
    )
    assert first["created"] is True
    assert set(first["message"]) == MESSAGE_KEYS
    retry = await post(
        harness, alice, f"/chats/{chat_id}/messages", {"text": "hi", "client_id": client_id}
    )
    assert retry == {"message": first["message"], "created": False}
    await post(harness, alice, f"/chats/{chat_id}/messages", {"text": 5}, status=400)
    await post(harness, bob, f"/chats/{chat_id}/messages", {"text": "x"}, status=403)
    await post(harness, alice, "/chats/424242/messages", {"text": "x"}, status=404)
    response = await harness.client.post(
        f"/internal/chats/{chat_id}/messages", content=b"null", headers=alice.headers
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


async def test_read_marker_drives_unread_counts(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    sent = [await harness.send(alice, chat_id, str(n)) for n in range(3)]
    await harness.send(bob, chat_id, "own messages are never unread")

    async def unread(person: Person) -> int:
        [chat] = (await get(harness, person, "/chats/batch", ids=str(chat_id)))["chats"]
        count: int = chat["unread_count"]
        return count

    assert await unread(bob) == 3
    assert await unread(alice) == 1
    marked = await harness.mark_read(bob, chat_id, sent[1]["id"])
    assert (marked["chat_id"], marked["last_read_message_id"]) == (chat_id, sent[1]["id"])
    assert marked["chat"]["unread_count"] == 1
    assert await unread(bob) == 1  # the first marker is written at once
    # Never backwards, never past the last message. (Written within 2 s of the first, these
    # wait: tests/chat_service/test_read_markers.py; the answers are exact at once.)
    back = await harness.mark_read(bob, chat_id, sent[0]["id"])
    assert back["last_read_message_id"] == sent[1]["id"]
    far = await harness.mark_read(bob, chat_id, 10**12)
    assert far["last_read_message_id"] > sent[2]["id"]
    assert far["chat"]["unread_count"] == 0


@pytest.mark.parametrize(
    ("mark", "field"),
    [
        ({}, "message_id"),
        ({"message_id": "5"}, "message_id"),
        ({"message_id": -1}, "message_id"),
        ({"message_id": True}, "message_id"),
        ({"message_id": 1.5}, "message_id"),
        ({"message_id": 10**20}, "message_id"),
        ({"chat_id": "1", "message_id": 1}, "chat_id"),
        ({"chat_id": None, "message_id": 1}, "chat_id"),
    ],
)
async def test_read_marker_failures(
    harness: ChatHarness, alice: Person, mark: dict[str, Any], field: str
) -> None:
    chat_id = await harness.create_chat(alice)
    body = {"marks": [{"token": alice.token, "chat_id": chat_id, **mark}]}
    [error] = (await post(harness, alice, "/read-markers", body))["results"]
    assert (error["status"], error["code"], error["field"]) == (400, "validation_error", field)


async def test_read_markers_answer_each_mark_alone_in_order(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    theirs = await harness.create_chat(carol)
    message = (await harness.send(alice, chat_id, "hi"))["id"]
    expired = TokenCodec(TEST_JWT_SECRET, timedelta(seconds=-10)).issue(
        user_id=bob.id, login=bob.login, nickname=bob.nickname
    )
    marks = [
        {"token": bob.token, "chat_id": chat_id, "message_id": message},
        {"token": alice.token, "chat_id": theirs, "message_id": 1},  # someone else's chat
        {"token": bob.token, "chat_id": 424242, "message_id": 1},  # no such chat
        {"token": expired, "chat_id": chat_id, "message_id": message},
        {"chat_id": chat_id, "message_id": message},  # no token
        "not a mark",
        {"token": carol.token, "chat_id": theirs, "message_id": 0},
        {"token": alice.token, "chat_id": chat_id, "message_id": message},
    ]
    results = (await post(harness, alice, "/read-markers", {"marks": marks}))["results"]
    assert [result.get("status", 200) for result in results] == [
        200, 403, 404, 401, 401, 400, 200, 200
    ]  # fmt: skip
    assert (results[0]["chat_id"], results[0]["last_read_message_id"]) == (chat_id, message)
    assert results[0]["chat"]["unread_count"] == 0
    assert results[1]["code"] == "not_a_member"
    assert results[7]["chat"]["unread_count"] == 0  # her own message
    assert results[6]["chat"]["id"] == theirs


@pytest.mark.parametrize(
    "body",
    [{}, {"marks": []}, {"marks": "x"}, {"marks": [{}] * 101}],
)
async def test_read_markers_refuse_a_call_without_marks_or_with_too_many(
    harness: ChatHarness, alice: Person, body: dict[str, Any]
) -> None:
    error = await post(harness, alice, "/read-markers", body, status=400)
    assert error["field"] == "marks"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/chats"),
        ("GET", "/chats/batch?ids=1"),
        ("GET", "/chat-ids"),
        ("GET", "/members?chat_ids=1"),
        ("GET", "/last-messages?chat_ids=1"),
        ("GET", "/chats/1/messages"),
        ("GET", "/messages?after=0"),
        ("POST", "/chats"),
        ("POST", "/chats/1/members"),
        ("POST", "/chats/1/leave"),
        ("POST", "/chats/1/messages"),
    ],
)
async def test_every_internal_endpoint_needs_a_token(
    harness: ChatHarness, method: str, path: str
) -> None:
    response = await harness.client.request(method, f"/internal{path}", json={})
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized", "code": "unauthenticated"}


async def test_unread_counts_only_when_asked_for(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    await harness.send(alice, chat_id, "hi")
    paths: list[tuple[str, dict[str, Any]]] = [("/chats", {}), ("/chats/batch", {"ids": chat_id})]
    for path, params in paths:
        counted = await get(harness, bob, path, **params)
        assert counted["chats"][0]["unread_count"] == 1
        for flag in ("0", "false"):
            skipped = await get(harness, bob, path, unread=flag, **params)
            assert skipped["chats"][0]["unread_count"] is None
        for flag in ("1", "TRUE"):
            assert (await get(harness, bob, path, unread=flag, **params))["chats"][0][
                "unread_count"
            ] == 1
        error = await get(harness, bob, path, status=400, unread="maybe", **params)
        assert error["field"] == "unread"
