"""The seed's REST contract: each endpoint called exactly as the seed's web pages called it."""

from __future__ import annotations

from datetime import datetime

from tests.chat_service.conftest import CHAT, ChatHarness
from tests.support.people import Person


def seed_headers(person: Person) -> dict[str, str]:
    """What chat.js sent on every chat call (chat-list.js left out the Content-Type on GET)."""
    return {"Authorization": f"Bearer {person.token}", "Content-Type": "application/json"}


def assert_iso_utc(value: str) -> None:
    assert value.endswith("+00:00"), value
    datetime.fromisoformat(value)


async def test_create_chat_then_list_it(harness: ChatHarness, alice: Person) -> None:
    created = await harness.client.post(
        f"{CHAT}/", content=b'{"name":"Study group"}', headers=seed_headers(alice)
    )
    assert created.status_code == 200
    assert created.headers["content-type"] == "application/json"
    assert list(created.json()) == ["chat_id"]
    chat_id = created.json()["chat_id"]
    assert isinstance(chat_id, int)

    listed = await harness.client.get(
        f"{CHAT}/", headers={"Authorization": f"Bearer {alice.token}"}
    )
    assert listed.status_code == 200
    [chat] = listed.json()
    assert set(chat) == {"id", "name", "date_added"}
    assert chat["id"] == chat_id
    assert chat["name"] == "Study group"
    assert_iso_utc(chat["date_added"])


async def test_chat_list_is_newest_first(harness: ChatHarness, alice: Person) -> None:
    first = await harness.create_chat(alice, "first")
    second = await harness.create_chat(alice, "second")
    listed = await harness.client.get(f"{CHAT}/", headers=alice.headers)
    assert [chat["id"] for chat in listed.json()] == [second, first]


async def test_list_and_create_answer_without_the_trailing_slash(
    harness: ChatHarness, alice: Person
) -> None:
    created = await harness.client.post(CHAT, json={"name": "x"}, headers=alice.headers)
    assert created.status_code == 200
    listed = await harness.client.get(CHAT, headers=alice.headers)
    assert listed.status_code == 200
    assert [chat["id"] for chat in listed.json()] == [created.json()["chat_id"]]


async def test_send_and_read_history(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice)
    sent = await harness.client.post(
        f"{CHAT}/{chat_id}/message", content=b'{"text":"hello"}', headers=seed_headers(alice)
    )
    assert sent.status_code == 200
    body = sent.json()
    assert body["status"] == "ok"
    message = body["message"]
    assert message["text"] == "hello"
    assert message["chat_id"] == chat_id
    assert message["sender_id"] == alice.id
    assert message["sender_nickname"] == "Alice"
    assert message["client_id"] is None
    assert_iso_utc(message["date_sent"])

    history = await harness.client.get(f"{CHAT}/{chat_id}", headers=seed_headers(alice))
    assert history.status_code == 200
    [item] = history.json()
    assert item == {key: value for key, value in message.items() if key != "client_id"}
    assert set(item) == {"id", "chat_id", "sender_id", "sender_nickname", "text", "date_sent"}


async def test_add_user_then_the_member_reads_and_writes(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    added = await harness.client.post(
        f"{CHAT}/{chat_id}/add-user", content=b'{"nickname":"Bob"}', headers=seed_headers(alice)
    )
    assert added.status_code == 200
    assert added.json() == {"status": "ok"}
    await harness.send(bob, chat_id, "hi Alice")
    assert [m["text"] for m in await harness.history(alice, chat_id)] == ["hi Alice"]
    listed = await harness.client.get(f"{CHAT}/", headers=bob.headers)
    assert [chat["id"] for chat in listed.json()] == [chat_id]


async def test_leave_without_a_body(harness: ChatHarness, alice: Person, bob: Person) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    left = await harness.client.post(f"{CHAT}/{chat_id}/leave", headers=seed_headers(bob))
    assert left.status_code == 200
    assert left.json() == {"status": "ok"}
    listed = await harness.client.get(f"{CHAT}/", headers=bob.headers)
    assert listed.json() == []


async def test_bare_token_without_bearer_is_accepted(harness: ChatHarness, alice: Person) -> None:
    response = await harness.client.get(f"{CHAT}/", headers={"Authorization": alice.token})
    assert response.status_code == 200


async def test_add_user_errors_keep_the_seed_shape(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    missing = await harness.client.post(
        f"{CHAT}/{chat_id}/add-user", json={}, headers=alice.headers
    )
    assert missing.status_code == 400
    assert missing.json() == {
        "status": "error",
        "message": "Nickname is required",
        "code": "validation_error",
    }
    foreign = await harness.client.post(
        f"{CHAT}/{chat_id}/add-user", json={"nickname": "Bob"}, headers=bob.headers
    )
    assert foreign.status_code == 403
    assert foreign.json() == {
        "status": "error",
        "message": "You are not a member of this chat",
        "code": "not_a_member",
    }


async def test_missing_token_is_401_unauthorized(harness: ChatHarness) -> None:
    for method, path in [
        ("GET", f"{CHAT}/"),
        ("POST", f"{CHAT}/"),
        ("GET", f"{CHAT}/1"),
        ("POST", f"{CHAT}/1/leave"),
        ("POST", f"{CHAT}/1/message"),
        ("POST", f"{CHAT}/1/add-user"),
    ]:
        response = await harness.client.request(method, path, json={})
        assert response.status_code == 401, path
        assert response.json() == {"error": "Unauthorized", "code": "unauthenticated"}


async def test_responses_are_json_even_for_unknown_routes(
    harness: ChatHarness, alice: Person
) -> None:
    response = await harness.client.get(f"{CHAT}/1/nothing-here", headers=alice.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    response = await harness.client.delete(f"{CHAT}/", headers=alice.headers)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
