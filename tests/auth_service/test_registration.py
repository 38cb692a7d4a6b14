"""Uniqueness (also under a race), login failures that look alike, rehash on login."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from argon2 import extract_parameters
from sqlalchemy import select
from starlette.applications import Starlette

from auth_service.app import create_app
from auth_service.models import User
from auth_service.passwords import HashParameters
from mychat.db import session_scope
from mychat.service import ServiceResources
from mychat.settings import Settings
from tests.support.people import PASSWORD, register

REGISTER = "/mychat/api/auth/register"
LOGIN = "/mychat/api/auth/login"


async def stored_hash(app: Starlette, login: str) -> str:
    res: ServiceResources = app.state.res
    async with session_scope(res.sessions) as session:
        user = (await session.execute(select(User).where(User.login == login))).scalar_one()
        return user.password_hash


async def test_duplicate_login_is_409_whatever_its_case(client: httpx.AsyncClient) -> None:
    await register(client, login="alice", nickname="Alice")
    response = await client.post(
        REGISTER, json={"login": "ALICE", "password": PASSWORD, "nickname": "Other"}
    )
    assert response.status_code == 409
    assert response.json() == {
        "error": "This login is already taken",
        "code": "conflict",
        "field": "login",
    }


@pytest.mark.parametrize("nickname", ["Alice", "alice", "ALICE", "  aLiCe "])
async def test_duplicate_nickname_is_409_ignoring_case(
    client: httpx.AsyncClient, nickname: str
) -> None:
    await register(client, login="alice", nickname="Alice")
    response = await client.post(
        REGISTER, json={"login": "bob", "password": PASSWORD, "nickname": nickname}
    )
    assert response.status_code == 409
    assert response.json()["field"] == "nickname"
    assert response.json()["code"] == "conflict"


async def test_casefolded_nicknames_collide(client: httpx.AsyncClient) -> None:
    await register(client, login="fritz", nickname="Straße")
    response = await client.post(
        REGISTER, json={"login": "fritz2", "password": PASSWORD, "nickname": "STRASSE"}
    )
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("second_login", "second_nickname", "field"),
    [("alice", "Alice2", "login"), ("alice2", "ALICE", "nickname")],
)
async def test_concurrent_duplicate_registration(
    client: httpx.AsyncClient, second_login: str, second_nickname: str, field: str
) -> None:
    # Both pass the "is it taken" check together; the unique index must decide, not a 500.
    first, second = await asyncio.gather(
        client.post(REGISTER, json={"login": "alice", "password": PASSWORD, "nickname": "Alice"}),
        client.post(
            REGISTER,
            json={"login": second_login, "password": PASSWORD, "nickname": second_nickname},
        ),
    )
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 409], (first.text, second.text)
    loser = first if first.status_code == 409 else second
    assert loser.json()["code"] == "conflict"
    assert loser.json()["field"] == field


async def test_unknown_login_and_wrong_password_look_the_same(
    client: httpx.AsyncClient,
) -> None:
    # Each login may fail three times before the growing delays start, so several logins give
    # enough samples for the fastest of each kind to be the work itself, not a loaded machine.
    known = [f"alice{number}" for number in range(4)]
    for login in known:
        await register(client, login=login, nickname=login.title())
    unknown = [f"nobody{number}" for number in range(len(known))]
    unknown_times: list[float] = []
    wrong_times: list[float] = []
    answers: set[tuple[int, str]] = set()
    for _ in range(3):
        for pair in zip(unknown, known, strict=True):
            for login, times in zip(pair, (unknown_times, wrong_times), strict=True):
                started = time.perf_counter()
                response = await client.post(
                    LOGIN, json={"login": login, "password": "not it at all"}
                )
                times.append(time.perf_counter() - started)
                answers.add((response.status_code, response.text))
    assert answers == {(400, '{"error":"Invalid login or password","code":"invalid_credentials"}')}
    # Both pay for one argon2 verification (the unknown login against a dummy hash).
    assert min(unknown_times) > 0.5 * min(wrong_times)
    assert min(wrong_times) > 0.5 * min(unknown_times)


async def test_login_rehashes_when_the_parameters_changed(settings: Settings) -> None:
    old = HashParameters(memory_cost=8192, time_cost=1)
    old_app = create_app(settings, hash_parameters=old)
    async with (
        old_app.router.lifespan_context(old_app),
        httpx.AsyncClient(transport=httpx.ASGITransport(old_app), base_url="http://t") as client,
    ):
        await register(client)
        assert extract_parameters(await stored_hash(old_app, "alice")).time_cost == 1

    app = create_app(settings)  # today's parameters
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
    ):
        response = await client.post(LOGIN, json={"login": "alice", "password": PASSWORD})
        assert response.status_code == 200
        parameters = extract_parameters(await stored_hash(app, "alice"))
        assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (
            2,
            19456,
            1,
        )
        assert parameters.type.name == "ID"
        # The new hash still takes the same password.
        again = await client.post(LOGIN, json={"login": "alice", "password": PASSWORD})
        assert again.status_code == 200


async def test_a_failed_login_does_not_rehash(settings: Settings) -> None:
    old_app = create_app(settings, hash_parameters=HashParameters(memory_cost=8192, time_cost=1))
    async with (
        old_app.router.lifespan_context(old_app),
        httpx.AsyncClient(transport=httpx.ASGITransport(old_app), base_url="http://t") as client,
    ):
        await register(client)
        before = await stored_hash(old_app, "alice")

    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
    ):
        response = await client.post(LOGIN, json={"login": "alice", "password": "wrong pass"})
        assert response.status_code == 400
        assert await stored_hash(app, "alice") == before


async def test_passwords_are_stored_as_argon2id(
    client: httpx.AsyncClient, auth_app: Starlette
) -> None:
    await register(client)
    stored = await stored_hash(auth_app, "alice")
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


async def test_accented_nicknames_are_distinct_on_every_database(client: httpx.AsyncClient) -> None:
    # MySQL's utf8mb4_unicode_ci would equate these; nickname_key uses a binary collation.
    await register(client, login="jose1", nickname="José")
    await register(client, login="jose2", nickname="Jose")
