"""The gateway's user lookups: bearer token required, ids and nicknames checked."""

from __future__ import annotations

import httpx
import pytest

from tests.support.people import register


async def auth_headers(client: httpx.AsyncClient) -> tuple[dict[str, str], int, int]:
    alice = await register(client, login="alice", nickname="Alice")
    bob = await register(client, login="bob", nickname="Bob Ross")
    headers = {"Authorization": f"Bearer {alice['token']}"}
    return headers, alice["user"]["id"], bob["user"]["id"]


async def test_users_by_ids(client: httpx.AsyncClient) -> None:
    headers, alice, bob = await auth_headers(client)
    response = await client.get(f"/internal/users?ids={bob},{alice},999999,{bob}", headers=headers)
    assert response.status_code == 200
    assert response.json() == {
        "users": [
            {"id": bob, "login": "bob", "nickname": "Bob Ross"},
            {"id": alice, "login": "alice", "nickname": "Alice"},
        ]
    }
    empty = await client.get("/internal/users?ids=", headers=headers)
    assert empty.json() == {"users": []}


async def test_users_by_exactly_500_ids(client: httpx.AsyncClient) -> None:
    headers, alice, _ = await auth_headers(client)
    ids = ",".join(str(alice + n) for n in range(500))
    response = await client.get("/internal/users", params={"ids": ids}, headers=headers)
    assert response.status_code == 200
    assert len(response.json()["users"]) == 2


@pytest.mark.parametrize(
    "query",
    ["", "?ids=a", "?ids=1,,2", "?ids=-1", "?ids=1.5", "?ids=1%202", "?ids=" + "9" * 19],
)
async def test_users_with_bad_ids_is_400(client: httpx.AsyncClient, query: str) -> None:
    headers, _, _ = await auth_headers(client)
    response = await client.get(f"/internal/users{query}", headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["field"] == "ids"


async def test_users_with_501_ids_is_400(client: httpx.AsyncClient) -> None:
    headers, _, _ = await auth_headers(client)
    ids = ",".join(str(n) for n in range(1, 502))
    response = await client.get("/internal/users", params={"ids": ids}, headers=headers)
    assert response.status_code == 400
    assert "500" in response.json()["error"]


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer nope", "Basic YWxpY2U6eA=="])
async def test_internal_endpoints_need_a_valid_token(
    client: httpx.AsyncClient, authorization: str | None
) -> None:
    await register(client)
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.get("/internal/users?ids=1", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized", "code": "unauthenticated"}
