"""The domain functions on a session: the unique index decides a race past the check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth_service.users import do_register, get_users_by_ids
from auth_service.validation import Registration
from mychat.db import create_engine, create_sessionmaker, session_scope
from mychat.http import ApiError
from mychat.settings import Settings

ALICE = Registration(login="alice", password="unused here", nickname="Alice")


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("second", "field"),
    [
        (Registration(login="alice", password="x", nickname="Other"), "login"),
        (Registration(login="bob", password="x", nickname="ALICE"), "nickname"),
    ],
)
async def test_insert_racing_past_the_check_is_a_conflict(
    sessions: async_sessionmaker[AsyncSession], second: Registration, field: str
) -> None:
    async with sessions() as first_session, first_session.begin():
        await do_register(first_session, ALICE, "hash-a")
        # The first insert is flushed but not committed: the second's check cannot see it,
        # so its insert waits on the unique index until the first commits.
        loser = asyncio.create_task(_register_alone(sessions, second))
        await asyncio.sleep(0.3)
        assert not loser.done()
    with pytest.raises(ApiError) as error:
        await loser
    assert (error.value.status, error.value.code, error.value.field) == (409, "conflict", field)


async def _register_alone(
    sessions: async_sessionmaker[AsyncSession], registration: Registration
) -> None:
    async with session_scope(sessions) as session:
        await do_register(session, registration, "hash-b")


async def test_lookups(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with session_scope(sessions) as session:
        alice = await do_register(session, ALICE, "h1")
        bob = await do_register(
            session, Registration(login="bob", password="x", nickname="Bob Ross"), "h2"
        )
    async with session_scope(sessions) as session:
        found = await get_users_by_ids(session, [bob.id, 999_999, alice.id, bob.id])
        assert [user.id for user in found] == [bob.id, alice.id]
        assert await get_users_by_ids(session, []) == []
