"""The domain functions on their own: they flush, never commit, and queue events for the caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select

from chat_service.access import access_chat_for_user
from chat_service.chats import do_add_member, do_create_chat, do_leave_chat
from chat_service.messages import (
    check_client_id,
    check_message_text,
    do_mark_read,
    get_chat_messages,
)
from chat_service.models import Chat
from chat_service.unit_of_work import pending_events
from mychat.events import EventKind
from mychat.http import ApiError
from mychat.service import ServiceResources
from tests.chat_service.conftest import ChatHarness
from tests.support.people import Person


def sessions(harness: ChatHarness) -> ServiceResources:
    res: ServiceResources = harness.app.state.res
    return res


async def chat_count(harness: ChatHarness) -> int:
    async with sessions(harness).sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Chat)) or 0)


async def test_domain_writes_are_left_for_the_caller_to_commit(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    async with sessions(harness).sessions() as session:
        chat = await do_create_chat(session, "Draft", alice.id, ["Bob"])
        chat_id = chat.chat.id
        await do_leave_chat(session, chat_id, alice.id)
        kinds = [event.kind for event in pending_events(session)]
        assert kinds == [EventKind.CHAT_CREATED, EventKind.MEMBER_LEFT]
        # Visible inside the transaction: Bob now owns the chat.
        _chat, member, _nickname = await access_chat_for_user(session, chat_id, bob.id)
        assert member.role == "owner"
        await session.rollback()
    assert await chat_count(harness) == 0


async def test_access_refuses_unknown_chats_and_strangers(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice)
    async with sessions(harness).sessions() as session:
        with pytest.raises(ApiError) as unknown:
            await access_chat_for_user(session, chat_id + 1000, alice.id)
        assert (unknown.value.status, unknown.value.code) == (404, "not_found")
        with pytest.raises(ApiError) as stranger:
            await access_chat_for_user(session, chat_id, bob.id, lock=True)
        assert (stranger.value.status, stranger.value.code) == (403, "not_a_member")


async def _checked(check: Callable[[str], object], value: str) -> object:
    return check(value)


async def test_domain_checks_without_http(harness: ChatHarness, alice: Person, bob: Person) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    async with sessions(harness).sessions() as session:
        checks: list[tuple[Callable[[], Awaitable[object]], str]] = [
            (lambda: do_create_chat(session, " ", alice.id), "validation_error"),
            (lambda: _checked(check_message_text, "x" * 4001), "validation_error"),
            (lambda: _checked(check_client_id, "123"), "validation_error"),
            (lambda: do_add_member(session, chat_id, alice.id, "Bob"), "already_a_member"),
            (lambda: do_add_member(session, chat_id, alice.id, ""), "validation_error"),
            (lambda: do_mark_read(session, chat_id, alice.id, -1), "validation_error"),
        ]
        for call, code in checks:
            with pytest.raises(ApiError) as error:
                await call()
            assert error.value.code == code
        assert pending_events(session) == []


async def test_history_after_an_id(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice)
    ids = [(await harness.send(alice, chat_id, str(n)))["id"] for n in range(4)]
    page, more = await get_chat_messages(
        harness.app.state.reads, chat_id, alice.id, limit=2, after=ids[0]
    )
    assert ([m.id for m in page], more) == (ids[1:3], True)
