"""/verify refuses every token it did not issue itself, still valid, with HS256."""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from tests.support.env import TEST_JWT_SECRET
from tests.support.people import register

VERIFY = "/mychat/api/auth/verify"


def claims(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    base = {
        "sub": "1",
        "user_id": 1,
        "login": "alice",
        "nickname": "Alice",
        "iat": now,
        "exp": now + timedelta(hours=1),
        "jti": "j",
    }
    return {**base, **changes}


def unsigned(payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, default=lambda d: int(d.timestamp())).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == {
        "valid": False,
        "error": "Invalid or expired token",
        "code": "invalid_token",
    }


async def test_a_token_we_issued_is_valid(client: httpx.AsyncClient) -> None:
    token = (await register(client))["token"]
    body = (await client.post(VERIFY, json={"token": token})).json()
    payload = body["payload"]
    assert body["valid"] is True
    assert payload["sub"] == str(payload["user_id"])
    assert payload["exp"] - payload["iat"] == 3600
    assert payload["jti"]


def signed(payload: dict[str, Any], algorithm: str = "HS256", key: str = TEST_JWT_SECRET) -> str:
    with warnings.catch_warnings():
        # The test secret is short for HS384/HS512; the point is only that they are refused.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(payload, key, algorithm=algorithm)


REFUSED: dict[str, Callable[[], str]] = {
    "forged": lambda: signed(claims(), key="another secret that is long enough!!"),
    "hs512": lambda: signed(claims(), "HS512"),
    "hs384": lambda: signed(claims(), "HS384"),
    "alg-none": lambda: unsigned(claims()),
    "expired": lambda: signed(claims(exp=datetime.now(UTC) - timedelta(seconds=5))),
    "no-exp": lambda: signed({k: v for k, v in claims().items() if k != "exp"}),
    "string-user-id": lambda: signed(claims(user_id="1")),
    "dots": lambda: "not.a.jwt",
    "junk": lambda: "garbage",
}


@pytest.mark.parametrize("kind", sorted(REFUSED))
async def test_refused_tokens(client: httpx.AsyncClient, kind: str) -> None:
    assert_refused(await client.post(VERIFY, json={"token": REFUSED[kind]()}))


async def test_a_tampered_payload_is_refused(client: httpx.AsyncClient) -> None:
    token = (await register(client))["token"]
    header, _payload, signature = token.split(".")
    forged = unsigned(claims(user_id=2, sub="2")).split(".")[1]
    assert_refused(await client.post(VERIFY, json={"token": f"{header}.{forged}.{signature}"}))


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": None}, {"other": 1}])
async def test_missing_token_is_400(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post(VERIFY, json=body)
    assert response.status_code == 400
    assert response.json()["valid"] is False
    assert response.json()["field"] == "token"


async def test_empty_body_without_header_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(VERIFY)
    assert response.status_code == 400
    assert response.json()["valid"] is False


@pytest.mark.parametrize("token", [123, ["a"], {"t": 1}, True])
async def test_a_token_of_the_wrong_type_is_400(client: httpx.AsyncClient, token: Any) -> None:
    response = await client.post(VERIFY, json={"token": token})
    assert response.status_code == 400
    assert response.json() == {
        "valid": False,
        "error": "token must be a string",
        "code": "validation_error",
        "field": "token",
    }


@pytest.mark.parametrize("raw", [b"null", b"[]", b"{oops"])
async def test_a_body_that_is_not_an_object_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(VERIFY, content=raw)
    assert response.status_code == 400
    assert response.json()["valid"] is False
    assert response.json()["code"] == "invalid_json"


@pytest.mark.parametrize("scheme", ["Bearer ", "bearer ", ""])
async def test_authorization_header_is_a_fallback(client: httpx.AsyncClient, scheme: str) -> None:
    token = (await register(client))["token"]
    response = await client.post(VERIFY, headers={"Authorization": scheme + token})
    assert response.status_code == 200
    assert response.json()["valid"] is True
    bad = await client.post(VERIFY, headers={"Authorization": scheme + token + "x"})
    assert_refused(bad)
