"""The shared service factory: error shapes, body limits, auth, health, request ids."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mychat.broker import MemoryBroker
from mychat.http import MAX_BODY_BYTES, JSONResponse, read_json_object
from mychat.service import authenticate, create_service_app, resources
from mychat.settings import Settings
from mychat.tokens import TokenCodec


async def echo(request: Request) -> Response:
    return JSONResponse({"got": await read_json_object(request)})


async def whoami(request: Request) -> Response:
    return JSONResponse({"user_id": authenticate(request).user_id})


async def boom(_request: Request) -> Response:
    raise RuntimeError("secret detail")


@pytest.fixture
async def client(sqlite_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app(
        sqlite_settings,
        [
            Route("/echo", echo, methods=["POST"]),
            Route("/whoami", whoami, methods=["GET"]),
            Route("/boom", boom, methods=["GET"]),
        ],
        embedded=True,
        broker=MemoryBroker(),
        owns_broker=True,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app, raise_app_exceptions=False),
            base_url="http://test",
        ) as http,
    ):
        http.app = app  # type: ignore[attr-defined]  # lets tests reach the app's resources
        yield http


async def test_json_object_round_trips(client: httpx.AsyncClient) -> None:
    answer = await client.post("/echo", json={"a": "🎉"})
    assert answer.status_code == 200
    assert answer.json() == {"got": {"a": "🎉"}}
    assert answer.headers["x-request-id"]


@pytest.mark.parametrize("body", [b"", b"null", b"[1]", b"{bad", b'"text"', b"\xff"])
async def test_bodies_that_are_not_json_objects_get_400(
    client: httpx.AsyncClient, body: bytes
) -> None:
    answer = await client.post("/echo", content=body)
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_json"


async def test_oversized_body_gets_413_by_length(client: httpx.AsyncClient) -> None:
    answer = await client.post("/echo", content=b"x" * (MAX_BODY_BYTES + 1))
    assert answer.status_code == 413
    assert answer.json()["code"] == "payload_too_large"


async def test_oversized_body_gets_413_when_streamed(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(80):
            yield b"x" * 1024

    answer = await client.post("/echo", content=chunks())
    assert answer.status_code == 413


async def test_unknown_route_and_method_are_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nope")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong_method = await client.get("/echo")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"


async def test_unexpected_errors_are_masked(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    answer = await client.get("/boom")
    assert answer.status_code == 500
    body: dict[str, Any] = answer.json()
    assert body["code"] == "internal"
    assert "secret detail" not in answer.text
    assert body["request_id"] == answer.headers["x-request-id"]
    assert "secret detail" in caplog.text


async def test_authentication(client: httpx.AsyncClient) -> None:
    tokens: TokenCodec = resources_of(client).tokens
    token = tokens.issue(user_id=5, login="e", nickname="E")
    for header in (f"Bearer {token}", token):
        answer = await client.get("/whoami", headers={"Authorization": header})
        assert answer.json() == {"user_id": 5}
    for header in ("", "Bearer", "Bearer nonsense"):
        answer = await client.get("/whoami", headers={"Authorization": header})
        assert answer.status_code == 401
        assert answer.json() == {"error": "Unauthorized", "code": "unauthenticated"}
    expired = TokenCodec(resources_of(client).settings.jwt_secret or "", timedelta(seconds=-5))
    answer = await client.get(
        "/whoami",
        headers={"Authorization": "Bearer " + expired.issue(user_id=5, login="e", nickname="E")},
    )
    assert answer.status_code == 401


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}


def resources_of(client: httpx.AsyncClient) -> Any:
    return resources_stub(client.app)  # type: ignore[attr-defined]  # set by the fixture


def resources_stub(app: Any) -> Any:
    request = Request({"type": "http", "app": app, "headers": []})
    return resources(request)


async def test_trailing_slash_redirect_does_not_reflect_the_host(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/healthz/?x=1", headers={"host": "evil.example"})
    assert response.status_code == 307
    assert response.headers["location"] == "/healthz?x=1"


async def test_control_characters_in_the_path_are_escaped_in_the_access_log(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mychat.access")
    # Percent-encoded in the URL, decoded into the path by the server (as uvicorn does).
    await client.get("/nowhere%1b[2J%0d%0aforged 200 line%00")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "mychat.access"]
    assert not any(char in line for char in "\x1b\r\n\x00"), line
    assert "/nowhere\\x1b[2J\\r\\nforged 200 line\\x00" in line
