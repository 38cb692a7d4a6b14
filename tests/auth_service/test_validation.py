"""Each bad input to register and login: a 400 naming the field, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.people import PASSWORD, register

REGISTER = "/mychat/api/auth/register"
LOGIN = "/mychat/api/auth/login"
GOOD = {"login": "alice", "password": PASSWORD, "nickname": "Alice"}


def with_(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


def without(field: str) -> dict[str, Any]:
    return {key: value for key, value in GOOD.items() if key != field}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (without("login"), "login", "All fields are required"),
        (without("password"), "password", "All fields are required"),
        (without("nickname"), "nickname", "All fields are required"),
        (with_(login=None), "login", "All fields are required"),
        (with_(password=""), "password", "All fields are required"),
        (with_(login=123), "login", "login must be a string"),
        (with_(password=["x" * 10]), "password", "password must be a string"),
        (with_(nickname={"a": 1}), "nickname", "nickname must be a string"),
        (with_(nickname=True), "nickname", "nickname must be a string"),
        (with_(login="ab"), "login", None),
        (with_(login="a" * 65), "login", None),
        (with_(login="al ice"), "login", None),
        (with_(login="алиса"), "login", None),
        (with_(login="alice\n"), "login", None),
        (with_(nickname="A"), "nickname", None),
        (with_(nickname="   A   "), "nickname", None),
        (with_(nickname="N" * 33), "nickname", None),
        (with_(nickname="Al\x00ice"), "nickname", None),
        (with_(nickname="Al\u202eice"), "nickname", None),
        (with_(nickname="Alice!"), "nickname", None),
        (with_(nickname="Al\tice"), "nickname", None),
        (with_(password="short"), "password", None),
        (with_(password="nine char"), "password", None),
        (with_(password=" " * 12), "password", "Password must not be one character repeated"),
        (with_(password="alicealice", login="alicealice"), "password", None),
        (with_(password="Alice Liddell", nickname="alice liddell"), "password", None),
        (
            with_(password="password123"),
            "password",
            "This password is too common; choose another one",
        ),
        (with_(password="qwertyuiop"), "password", None),
        (with_(nickname="\u0301\u0302\u0303"), "nickname", None),
        (with_(nickname="Al\u2066ice"), "nickname", None),
        (with_(nickname="-_-"), "nickname", None),
        (with_(password="p" * 257), "password", None),
        (with_(password="\U0001f600" * 257), "password", None),
    ],
)
async def test_register_rejects(
    client: httpx.AsyncClient, body: dict[str, Any], field: str, message: str | None
) -> None:
    response = await client.post(REGISTER, json=body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["code"] == "validation_error"
    assert answer["field"] == field
    assert answer["error"]
    if message is not None:
        assert answer["error"] == message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "login"),
        ({"login": "alice"}, "password"),
        ({"login": 5, "password": PASSWORD}, "login"),
        ({"login": "alice", "password": 12345678}, "password"),
        ({"login": "a" * 65, "password": PASSWORD}, "login"),
        ({"login": "alice", "password": "p" * 257}, "password"),
    ],
)
async def test_login_rejects(client: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
    response = await client.post(LOGIN, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["field"] == field


@pytest.mark.parametrize("path", [REGISTER, LOGIN])
@pytest.mark.parametrize(
    "raw", [b"", b"null", b"[]", b'["alice"]', b"42", b'"text"', b"{not json", b"\xff\xfe"]
)
async def test_bodies_that_are_not_a_json_object(
    client: httpx.AsyncClient, path: str, raw: bytes
) -> None:
    response = await client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


@pytest.mark.parametrize("path", [REGISTER, LOGIN, "/mychat/api/auth/verify"])
async def test_body_over_64_kib_is_413(client: httpx.AsyncClient, path: str) -> None:
    body = with_(nickname="x" * (64 * 1024))
    response = await client.post(path, json=body)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_streamed_body_over_64_kib_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        for _ in range(70):
            yield b"x" * 1024

    response = await client.post(REGISTER, content=chunks())
    assert response.status_code == 413


async def test_wrong_method_and_unknown_route_are_json_4xx(client: httpx.AsyncClient) -> None:
    response = await client.get(REGISTER)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    response = await client.post("/mychat/api/auth/nope", json={})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_nickname_is_trimmed_and_unicode_is_kept(client: httpx.AsyncClient) -> None:
    body = await register(client, login="Jose.M", nickname="  José Мария_1 ")
    assert body["user"]["nickname"] == "José Мария_1"
    assert body["user"]["login"] == "jose.m"  # logins are stored lowercased


async def test_password_is_not_truncated(client: httpx.AsyncClient) -> None:
    # bcrypt cut at 72 bytes in the seed; here the 73rd character still counts.
    long_password = "p" * 72 + "A"
    await register(client, password=long_password)
    wrong = await client.post(LOGIN, json={"login": "alice", "password": "p" * 72 + "B"})
    assert wrong.status_code == 400
    right = await client.post(LOGIN, json={"login": "alice", "password": long_password})
    assert right.status_code == 200


async def test_password_of_256_emoji_is_accepted(client: httpx.AsyncClient) -> None:
    password = "\U0001f600\U0001f389" * 128  # 256 characters, 1,024 bytes
    await register(client, password=password)
    response = await client.post(LOGIN, json={"login": "ALICE", "password": password})
    assert response.status_code == 200


async def test_nicknames_are_stored_nfc(client: httpx.AsyncClient) -> None:
    decomposed = "Zoe\u0301"  # e + combining acute
    response = await client.post(REGISTER, json=with_(nickname=decomposed))
    assert response.status_code == 200, response.text
    assert response.json()["user"]["nickname"] == "Zo\u00e9"
