"""The domain functions on their own: they never commit, and queue events for the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import func, select

from chat_service.access import access_chat_for_user
from chat_service.chats import do_create_chat
from chat_service.members import do_add_member, do_leave_chat
from chat_service.messages import get_chat_messages
from chat_service.sending import check_client_id, check_message_text
from chat_service.unit_of_work import UnitOfWork
from mychat.events import EventKind
from mychat.http import ApiError
from mychat.tables import chats
from tests.chat_service.conftest import ChatHarness
from tests.support.people import Person


@asynccontextmanager
async def rolled_back(harness: ChatHarness) -> AsyncIterator[UnitOfWork]:
    """A unit of work that the test ends with a rollback."""
    async with harness.engine.connect() as connection:
        transaction = await connection.begin()
        yield UnitOfWork(connection)
        await transaction.rollback()


async def chat_count(harness: ChatHarness) -> int:
    async with harness.autocommit_engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(chats)) or 0)


async def test_domain_writes_are_left_for_the_caller_to_commit(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    async with rolled_back(harness) as work:
        chat = await do_create_chat(work, "Draft", alice.id, ["Bob"])
        chat_id = chat.id
        await do_leave_chat(work, chat_id, alice.id)
        kinds = [event.kind for event in work.events]
        assert kinds == [EventKind.CHAT_CREATED, EventKind.MEMBER_LEFT, EventKind.OWNER_CHANGED]
        # Visible inside the transaction: Bob now owns the chat.
        access = await access_chat_for_user(work.connection, chat_id, bob.id)
        assert access.chat.my_role == "owner"
    assert await chat_count(harness) == 0


async def test_access_refuses_unknown_chats_and_strangers(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    async with rolled_back(harness) as work:
        with pytest.raises(ApiError) as unknown:
            await access_chat_for_user(work.connection, chat_id + 1000, alice.id)
        assert (unknown.value.status, unknown.value.code) == (404, "not_found")
        with pytest.raises(ApiError) as stranger:
            await access_chat_for_user(work.connection, chat_id, bob.id, lock=True)
        assert (stranger.value.status, stranger.value.code) == (403, "not_a_member")


async def _checked(check: Callable[[str], object], value: str) -> object:
    return check(value)


async def test_domain_checks_without_http(harness: ChatHarness, alice: Person, bob: Person) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    async with rolled_back(harness) as work:
        checks: list[tuple[Callable[[], Awaitable[object]], str]] = [
            (lambda: do_create_chat(work, " ", alice.id), "validation_error"),
            (lambda: _checked(check_message_text, "x" * 4001), "validation_error"),
            (lambda: _checked(check_client_id, "123"), "validation_error"),
            (lambda: do_add_member(work, chat_id, alice.id, "Bob"), "already_a_member"),
            (lambda: do_add_member(work, chat_id, alice.id, ""), "validation_error"),
        ]
        for call, code in checks:
            with pytest.raises(ApiError) as error:
                await call()
            assert error.value.code == code
        assert work.events == []


async def test_history_after_an_id(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice)
    ids = [(await harness.send(alice, chat_id, str(n)))["id"] for n in range(4)]
    async with harness.autocommit_engine.connect() as connection:
        page, more = await get_chat_messages(connection, chat_id, alice.id, limit=2, after=ids[0])
    assert ([m.id for m in page], more) == (ids[1:3], True)
