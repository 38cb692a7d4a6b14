"""Login and register attempts are limited per client address and per login."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from auth_service.app import create_app
from mychat.settings import Settings
from tests.support.people import PASSWORD, register

LIMIT = 3


@pytest.fixture
async def limited_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"login_rate_per_minute": LIMIT}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
    ):
        yield client


def assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["code"] == "rate_limited"
    assert body["error"]
    assert isinstance(body["retry_after"], int)
    assert 1 <= body["retry_after"] <= 60
    assert response.headers["Retry-After"] == str(body["retry_after"])


async def test_login_attempts_per_client_are_limited(limited_client: httpx.AsyncClient) -> None:
    for attempt in range(LIMIT):
        response = await limited_client.post(
            "/mychat/api/auth/login", json={"login": f"user{attempt}", "password": "whatever1"}
        )
        assert response.status_code == 400
    assert_limited(
        await limited_client.post(
            "/mychat/api/auth/login", json={"login": "other", "password": "whatever1"}
        )
    )


async def test_login_attempts_per_login_are_limited(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"login_rate_per_minute": LIMIT}))
    async with app.router.lifespan_context(app):
        statuses = []
        # A new client address each time: only the per-login limit can stop the last one.
        for attempt in range(LIMIT + 1):
            transport = httpx.ASGITransport(app, client=(f"10.0.0.{attempt}", 1234))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.post(
                    "/mychat/api/auth/login", json={"login": "Victim", "password": "guess1234"}
                )
                statuses.append(response.status_code)
        assert statuses == [400] * LIMIT + [429]


async def test_register_attempts_are_limited(limited_client: httpx.AsyncClient) -> None:
    for n in range(LIMIT):
        await register(limited_client, login=f"user{n}", nickname=f"User {n}")
    assert_limited(
        await limited_client.post(
            "/mychat/api/auth/register",
            json={"login": "late", "password": PASSWORD, "nickname": "Late"},
        )
    )
    # Registering and logging in are counted apart: the new users can still log in.
    response = await limited_client.post(
        "/mychat/api/auth/login", json={"login": "user0", "password": PASSWORD}
    )
    assert response.status_code == 200
