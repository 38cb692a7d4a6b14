"""The seed's pages call these endpoints exactly like this; their answers must not change shape."""

from __future__ import annotations

import httpx

from tests.support.people import PASSWORD, register

JSON = {"Content-Type": "application/json"}


async def test_register_answers_the_seed_body(client: httpx.AsyncClient) -> None:
    # auth.js: fetch(url, {method: "POST", headers: {"Content-Type": ...}, body: JSON.stringify})
    response = await client.post(
        "/mychat/api/auth/register",
        headers=JSON,
        content=b'{"login":"alice","password":"correct horse battery","nickname":"Alice"}',
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"token", "user"}
    assert isinstance(body["token"], str)
    assert set(body["user"]) == {"id", "login", "nickname"}
    assert body["user"]["login"] == "alice"
    assert body["user"]["nickname"] == "Alice"
    assert isinstance(body["user"]["id"], int)


async def test_login_page_sends_an_empty_nickname_too(client: httpx.AsyncClient) -> None:
    registered = await register(client)
    # auth.js always sends {login, password, nickname}; on the login tab nickname is "".
    response = await client.post(
        "/mychat/api/auth/login",
        headers=JSON,
        json={"login": "alice", "password": PASSWORD, "nickname": ""},
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "user"}
    assert body["user"] == registered["user"]


async def test_wrong_login_answers_the_seed_error(client: httpx.AsyncClient) -> None:
    await register(client)
    response = await client.post(
        "/mychat/api/auth/login", json={"login": "alice", "password": "wrong password!"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid login or password", "code": "invalid_credentials"}


async def test_register_without_fields_keeps_the_seed_message(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/mychat/api/auth/register", json={"login": "alice", "password": PASSWORD, "nickname": ""}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "All fields are required"


async def test_verify_as_the_chat_list_page_calls_it(client: httpx.AsyncClient) -> None:
    registered = await register(client)
    # chat-list.js: POST /verify with {token} in a JSON body, reads data.valid, data.payload.
    response = await client.post(
        "/mychat/api/auth/verify", headers=JSON, json={"token": registered["token"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True
    payload = body["payload"]
    assert payload["user_id"] == registered["user"]["id"]
    assert payload["login"] == "alice"
    assert payload["nickname"] == "Alice"
    assert isinstance(payload["exp"], int)


async def test_verify_without_token_is_400_not_valid(client: httpx.AsyncClient) -> None:
    response = await client.post("/mychat/api/auth/verify", json={})
    assert response.status_code == 400
    assert response.json()["valid"] is False


async def test_verify_with_a_bad_token_is_401_not_valid(client: httpx.AsyncClient) -> None:
    response = await client.post("/mychat/api/auth/verify", json={"token": "not-a-jwt"})
    assert response.status_code == 401
    assert response.json()["valid"] is False
