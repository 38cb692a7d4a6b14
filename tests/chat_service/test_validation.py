"""Bad input gets a clear 4xx with a stable code, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from tests.chat_service.conftest import CHAT, ChatHarness
from tests.support.env import TEST_JWT_SECRET
from tests.support.people import Person


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"null", "invalid_json"),
        (b"[]", "invalid_json"),
        (b'"text"', "invalid_json"),
        (b"", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
    ],
)
async def test_bodies_that_are_not_json_objects_are_400(
    harness: ChatHarness, alice: Person, raw: bytes, code: str
) -> None:
    chat_id = await harness.create_chat(alice)
    for path in [f"{CHAT}/", f"{CHAT}/{chat_id}/message"]:
        response = await harness.client.post(path, content=raw, headers=alice.headers)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["code"] == code
    add = await harness.client.post(
        f"{CHAT}/{chat_id}/add-user", content=raw, headers=alice.headers
    )
    assert add.status_code == 400
    assert add.json()["status"] == "error"
    assert add.json()["code"] == code


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": None},
        {"name": []},
        {"name": 5},
        {"name": {"x": 1}},
        {"name": "   "},
        {"name": ""},
    ],
)
async def test_create_chat_needs_a_name(
    harness: ChatHarness, alice: Person, body: dict[str, Any]
) -> None:
    response = await harness.client.post(f"{CHAT}/", json=body, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["field"] == "name"


async def test_chat_name_limits_count_characters_after_trimming(
    harness: ChatHarness, alice: Person
) -> None:
    longest = "🎉" * 100
    ok = await harness.client.post(
        f"{CHAT}/", json={"name": f"  {longest}  "}, headers=alice.headers
    )
    assert ok.status_code == 200
    listed = await harness.client.get(f"{CHAT}/", headers=alice.headers)
    assert listed.json()[0]["name"] == longest
    too_long = await harness.client.post(
        f"{CHAT}/", json={"name": "x" * 101}, headers=alice.headers
    )
    assert too_long.status_code == 400
    assert too_long.json() == {
        "error": "Chat name must be at most 100 characters",
        "code": "validation_error",
        "field": "name",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": None}, "text"),
        ({"text": 123}, "text"),
        ({"text": ["hi"]}, "text"),
        ({"text": True}, "text"),
        ({"text": " \n\t "}, "text"),
        ({"text": "x" * 4001}, "text"),
        ({"text": "hi", "client_id": "not-a-uuid"}, "client_id"),
        ({"text": "hi", "client_id": 42}, "client_id"),
    ],
)
async def test_bad_messages_are_400(
    harness: ChatHarness, alice: Person, body: dict[str, Any], field: str
) -> None:
    chat_id = await harness.create_chat(alice)
    response = await harness.client.post(
        f"{CHAT}/{chat_id}/message", json=body, headers=alice.headers
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["field"] == field
    assert await harness.history(alice, chat_id) == []


async def test_text_of_4000_characters_after_trimming_is_accepted(
    harness: ChatHarness, alice: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    text = "é" * 4000
    message = await harness.send(alice, chat_id, f"\n {text} \n")
    assert message["text"] == text


@pytest.mark.parametrize("body", [{"nickname": 7}, {"nickname": None}, {"nickname": "  "}])
async def test_add_user_needs_a_nickname_string(
    harness: ChatHarness, alice: Person, body: dict[str, Any]
) -> None:
    chat_id = await harness.create_chat(alice)
    response = await harness.client.post(
        f"{CHAT}/{chat_id}/add-user", json=body, headers=alice.headers
    )
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert response.json()["code"] == "validation_error"


async def test_body_over_64_kib_is_413(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice)
    huge = b'{"text": "' + b"x" * (64 * 1024) + b'"}'
    response = await harness.client.post(
        f"{CHAT}/{chat_id}/message", content=huge, headers=alice.headers
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"

    async def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 4096

    streamed = await harness.client.post(
        f"{CHAT}/{chat_id}/message", content=chunks(), headers=alice.headers
    )
    assert streamed.status_code == 413
    assert await harness.history(alice, chat_id) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"before": "x"}, "before"),
        ({"before": "1e3"}, "before"),
    ],
)
async def test_bad_history_parameters_are_400(
    harness: ChatHarness, alice: Person, params: dict[str, str], field: str
) -> None:
    chat_id = await harness.create_chat(alice)
    response = await harness.client.get(f"{CHAT}/{chat_id}", params=params, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["field"] == field


def forged_token(person: Person, *, secret: str = TEST_JWT_SECRET, **changes: Any) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(person.id),
        "user_id": person.id,
        "login": person.nickname.lower(),
        "nickname": person.nickname,
        "iat": now,
        "exp": now + timedelta(hours=1),
        "jti": "test",
    }
    algorithm = changes.pop("algorithm", "HS256")
    claims.update(changes)
    return jwt.encode(claims, secret, algorithm=algorithm)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(
            lambda p: forged_token(
                p,
                iat=datetime.now(UTC) - timedelta(hours=2),
                exp=datetime.now(UTC) - timedelta(hours=1),
            ),
            id="expired",
        ),
        pytest.param(lambda p: forged_token(p, secret="another-secret-" + "y" * 40), id="forged"),
        pytest.param(lambda p: forged_token(p, algorithm="HS384"), id="other-algorithm"),
        pytest.param(lambda p: p.token[:-3] + "abc", id="tampered"),
        pytest.param(lambda p: "not.a.token", id="garbage"),
    ],
)
async def test_bad_tokens_are_401(harness: ChatHarness, alice: Person, token: Any) -> None:
    chat_id = await harness.create_chat(alice)
    bad = token(alice)
    for method, path in [
        ("GET", f"{CHAT}/"),
        ("GET", f"{CHAT}/{chat_id}"),
        ("POST", f"{CHAT}/{chat_id}/add-user"),
    ]:
        for header in (f"Bearer {bad}", bad):
            response = await harness.client.request(
                method, path, json={"nickname": "x"}, headers={"Authorization": header}
            )
            assert response.status_code == 401
            assert response.json() == {"error": "Unauthorized", "code": "unauthenticated"}


async def test_token_of_a_user_who_does_not_exist_cannot_create(
    harness: ChatHarness, alice: Person
) -> None:
    ghost = Person(alice.id + 1000, "Ghost", "")
    token = forged_token(ghost)
    response = await harness.client.post(
        f"{CHAT}/", json={"name": "x"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "name", ["\u0301\u0302", " \u200b ", "Team\u202egnp.exe", "\u2067Team", "..\u200f"]
)
async def test_chat_names_need_something_visible_and_no_bidi_controls(
    harness: ChatHarness, alice: Person, name: str
) -> None:
    response = await harness.client.post(f"{CHAT}/", json={"name": name}, headers=alice.headers)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "name"


async def test_chat_names_are_stored_nfc(harness: ChatHarness, alice: Person) -> None:
    response = await harness.client.post(
        f"{CHAT}/", json={"name": "Cafe\u0301 🎉"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    listed = await harness.client.get(f"{CHAT}/", headers=alice.headers)
    assert listed.json()[0]["name"] == "Caf\u00e9 🎉"
