"""Membership is checked on every read and write; adding and leaving members."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mychat.tables import chat_members, chats
from tests.chat_service.conftest import CHAT, ChatHarness
from tests.support.people import Person

NOT_A_MEMBER = {"error": "You are not a member of this chat", "code": "not_a_member"}
SEED_NOT_A_MEMBER = {
    "status": "error",
    "message": "You are not a member of this chat",
    "code": "not_a_member",
}


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("POST", "/message", {"text": "let me in"}),
        ("POST", "/leave", None),
    ],
)
async def test_someone_elses_chat_is_403(
    harness: ChatHarness,
    alice: Person,
    bob: Person,
    method: str,
    suffix: str,
    body: dict[str, str] | None,
) -> None:
    chat_id = await harness.create_chat(alice)
    await harness.send(alice, chat_id, "secret")
    response = await harness.client.request(
        method, f"{CHAT}/{chat_id}{suffix}", json=body, headers=bob.headers
    )
    assert response.status_code == 403
    assert response.json() == NOT_A_MEMBER
    assert [m["text"] for m in await harness.history(alice, chat_id)] == ["secret"]


async def test_add_user_to_someone_elses_chat_is_403(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    response = await harness.client.post(
        f"{CHAT}/{chat_id}/add-user", json={"nickname": "Bob"}, headers=bob.headers
    )
    assert response.status_code == 403
    assert response.json() == SEED_NOT_A_MEMBER


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("POST", "/message", {"text": "anyone?"}),
        ("POST", "/leave", None),
        ("POST", "/add-user", {"nickname": "Alice"}),
    ],
)
async def test_unknown_chat_is_404(
    harness: ChatHarness, alice: Person, method: str, suffix: str, body: dict[str, str] | None
) -> None:
    response = await harness.client.request(
        method, f"{CHAT}/987654{suffix}", json=body, headers=alice.headers
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "chat_id", ["abc", "-1", "0", "1.5", "99999999999999999999999", "%F0%9F%8E%89"]
)
async def test_chat_id_that_is_not_an_id_is_404(
    harness: ChatHarness, alice: Person, chat_id: str
) -> None:
    for method, suffix in [("GET", ""), ("POST", "/message"), ("POST", "/add-user")]:
        response = await harness.client.request(
            method, f"{CHAT}/{chat_id}{suffix}", json={"text": "x"}, headers=alice.headers
        )
        assert response.status_code == 404, (chat_id, suffix, response.text)
        assert response.json()["code"] == "not_found"


async def test_add_unknown_nickname_is_404(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice)
    response = await harness.client.post(
        f"{CHAT}/{chat_id}/add-user", json={"nickname": "Nobody"}, headers=alice.headers
    )
    assert response.status_code == 404
    assert response.json() == {
        "status": "error",
        "message": "User 'Nobody' not found",
        "code": "not_found",
    }


async def test_add_existing_member_is_409_also_in_another_case(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    for nickname in ["Bob", "bob", "Alice"]:
        response = await harness.client.post(
            f"{CHAT}/{chat_id}/add-user", json={"nickname": nickname}, headers=alice.headers
        )
        assert response.status_code == 409, nickname
        assert response.json()["code"] == "already_a_member"
        assert response.json()["status"] == "error"


async def test_nickname_lookup_ignores_case_and_spaces(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    response = await harness.client.post(
        f"{CHAT}/{chat_id}/add-user", json={"nickname": "  bOB "}, headers=alice.headers
    )
    assert response.status_code == 200
    assert await harness.history(bob, chat_id) == []


async def test_leave_when_not_a_member_is_403(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    assert (await harness.client.post(f"{CHAT}/{chat_id}/leave", headers=bob.headers)).is_success
    again = await harness.client.post(f"{CHAT}/{chat_id}/leave", headers=bob.headers)
    assert again.status_code == 403
    assert again.json() == NOT_A_MEMBER
    # A former member reads nothing any more.
    read = await harness.client.get(f"{CHAT}/{chat_id}", headers=bob.headers)
    assert read.status_code == 403


async def roles(harness: ChatHarness, chat_id: int) -> dict[int, str]:
    async with harness.autocommit_engine.connect() as connection:
        members = await connection.execute(
            select(chat_members.c.user_id, chat_members.c.role).where(
                chat_members.c.chat_id == chat_id
            )
        )
        return {user_id: role for user_id, role in members}


async def test_owner_leaving_hands_the_chat_to_the_oldest_member(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob, carol)
    assert await roles(harness, chat_id) == {
        alice.id: "owner",
        bob.id: "member",
        carol.id: "member",
    }
    await harness.client.post(f"{CHAT}/{chat_id}/leave", headers=alice.headers)
    assert await roles(harness, chat_id) == {bob.id: "owner", carol.id: "member"}
    # The new owner can still add people back.
    await harness.add_user(bob, chat_id, alice)


async def test_a_chat_everyone_left_stays_stored(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice)
    await harness.send(alice, chat_id, "last words")
    await harness.client.post(f"{CHAT}/{chat_id}/leave", headers=alice.headers)
    assert await roles(harness, chat_id) == {}
    async with harness.autocommit_engine.connect() as connection:
        chat = (await connection.execute(select(chats).where(chats.c.id == chat_id))).one()
    assert chat.last_message_id is not None
    # Still a chat, not a 404: just nobody's.
    response = await harness.client.get(f"{CHAT}/{chat_id}", headers=alice.headers)
    assert response.status_code == 403


async def test_add_user_with_an_over_long_nickname_is_404_not_500(
    harness: ChatHarness, alice: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    response = await harness.client.post(
        f"{CHAT}/{chat_id}/add-user", json={"nickname": "🎉" * 5000}, headers=alice.headers
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
