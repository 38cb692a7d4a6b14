"""Hostile input gets a clear 4xx or a typed GraphQL error, never a 500 or a masked error."""

from __future__ import annotations

import base64

import pytest

from mychat.settings import Settings
from tests.gateway.conftest import GRAPHQL, Gateway, LiveServer
from tests.support.env import TEST_JWT_SECRET
from tests.support.tokens import forged_token


def _global_id(type_name: str, value: int | str) -> str:
    return base64.b64encode(f"{type_name}:{value}".encode()).decode()


@pytest.mark.parametrize("body", [b"null", b"1", b'"s"', b"true", b"[]"])
async def test_a_json_body_that_is_not_an_object_is_a_400(gateway: Gateway, body: bytes) -> None:
    response = await gateway.client.post(
        GRAPHQL, content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("accept", "status"), [("application/json", 200), ("application/graphql-response+json", 400)]
)
async def test_a_subscription_over_http_says_to_use_a_websocket(
    gateway: Gateway, accept: str, status: int
) -> None:
    alice = await gateway.register("Alice")
    response = await gateway.client.post(
        GRAPHQL,
        json={"query": "subscription { chatEvents { __typename } }"},
        headers={"authorization": f"Bearer {alice.token}", "accept": accept},
    )
    assert response.status_code == status, response.text
    (error,) = response.json()["errors"]
    assert "WebSocket" in error["message"]
    assert error["extensions"]["code"] == "WEBSOCKET_REQUIRED"


@pytest.mark.parametrize(
    "global_id",
    [
        _global_id("User", 10**30),
        _global_id("Chat", 2**63),
        _global_id("Chat", "9" * 40),
        "9" * 40,
    ],
)
async def test_out_of_range_ids_are_not_found(gateway: Gateway, global_id: str) -> None:
    alice = await gateway.register("Alice")
    body = await gateway.post(
        "query($id: ID!) { node(id: $id) { id } chat(id: $id) { id } }",
        {"id": global_id},
        alice.token,
    )
    assert body == {"data": {"node": None, "chat": None}}, body


@pytest.mark.parametrize("cursor", ["9" * 40, str(2**63), _global_id("Message", 10**30)])
async def test_out_of_range_cursors_are_validation_errors(gateway: Gateway, cursor: str) -> None:
    alice = await gateway.register("Alice")
    chat_id = await gateway.create_chat(alice)
    body = await gateway.post(
        "query($id: ID!, $c: String) { chat(id: $id) { messages(last: 5, before: $c) "
        "{ edges { cursor } } } }",
        {"id": chat_id, "c": cursor},
        alice.token,
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    chats = await gateway.post(
        "query($c: String) { chats(first: 5, after: $c) { edges { cursor } } }",
        {"c": base64.urlsafe_b64encode(f"1:{10**30}".encode()).decode()},
        alice.token,
    )
    assert chats["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR", chats


def _forged(settings: Settings, **claims: object) -> str:
    return forged_token(settings.jwt_secret or TEST_JWT_SECRET, **claims)


@pytest.mark.parametrize(
    "claims",
    [{"exp": "99999999999"}, {"exp": 1e20}, {"iat": "1700000000"}, {"user_id": 2**70}],
)
async def test_malformed_claims_are_401_on_rest_and_unauthenticated_on_graphql(
    live: LiveServer, settings: Settings, claims: dict[str, object]
) -> None:
    gateway = live.gateway
    if "user_id" in claims:
        claims = {**claims, "sub": str(claims["user_id"])}
    token = _forged(settings, **claims)
    rest = await gateway.client.get(
        "/mychat/api/chat/", headers={"authorization": f"Bearer {token}"}
    )
    assert rest.status_code == 401, rest.text
    body = await gateway.post("{ me { id } }", token=token)
    assert body == {"data": {"me": None}}, body
