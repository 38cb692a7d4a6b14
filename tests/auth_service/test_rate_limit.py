"""Login and register attempts are limited per client address; failed passwords slow down
the failing address for that login only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

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


def client_at(app: Starlette, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app, client=(address, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def login_from(app: Starlette, address: str, password: str) -> httpx.Response:
    async with client_at(app, address) as client:
        return await client.post(
            "/mychat/api/auth/login", json={"login": "victim", "password": password}
        )


async def test_wrong_passwords_slow_down_the_failing_address_with_growing_delays(
    auth_app: Starlette,
) -> None:
    async with client_at(auth_app, "10.0.0.1") as client:
        await register(client, login="victim", nickname="Victim")
    statuses = [(await login_from(auth_app, "10.0.0.66", "wrong guess")).status_code]
    statuses += [(await login_from(auth_app, "10.0.0.66", "wrong guess")).status_code]
    statuses += [(await login_from(auth_app, "10.0.0.66", "wrong guess")).status_code]
    statuses += [(await login_from(auth_app, "10.0.0.66", "wrong guess")).status_code]
    assert statuses == [400, 400, 400, 400]  # free failures, then the 4th sets a delay
    waiting = await login_from(auth_app, "10.0.0.66", PASSWORD)  # even the right one waits
    assert_limited(waiting)
    assert waiting.json()["retry_after"] == 1
    await asyncio.sleep(1.05)
    assert (await login_from(auth_app, "10.0.0.66", "wrong again")).status_code == 400
    assert_limited(again := await login_from(auth_app, "10.0.0.66", "wrong guess"))
    assert again.json()["retry_after"] == 2  # twice as long after each further failure
    await asyncio.sleep(2.05)
    # Waited out: the right password signs in and forgets the failures.
    assert (await login_from(auth_app, "10.0.0.66", PASSWORD)).status_code == 200
    assert (await login_from(auth_app, "10.0.0.66", "one slip")).status_code == 400


async def test_an_attacker_never_locks_the_owner_out(auth_app: Starlette) -> None:
    """Issue 13: 20 wrong passwords from one address used to lock the login for everyone."""
    async with client_at(auth_app, "10.0.0.1") as client:
        await register(client, login="victim", nickname="Victim")
    for _ in range(25):
        answer = await login_from(auth_app, "10.6.6.6", "guess1234")
        assert answer.status_code in (400, 429)
    assert answer.status_code == 429
    owner = await login_from(auth_app, "10.0.0.2", PASSWORD)
    assert owner.status_code == 200, owner.text
    assert owner.json()["user"]["login"] == "victim"


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
