"""Message search through the full-text index of each database: words, own chats only, newest
first, pages, and the refusals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tests.chat_service.conftest import ChatHarness
from tests.chat_service.test_internal import MESSAGE_KEYS, get
from tests.support.people import Person


async def texts(harness: ChatHarness, person: Person, query: str, **params: Any) -> list[str]:
    body = await get(harness, person, "/search", q=query, **params)
    return [message["text"] for message in body["messages"]]


async def test_words_in_my_chats_newest_first(
    harness: ChatHarness, alice: Person, bob: Person, carol: Person
) -> None:
    ours = await harness.create_chat(alice, "Ours", bob)
    theirs = await harness.create_chat(carol, "Theirs")
    await harness.send(alice, ours, "Deploy on Friday evening")
    await harness.send(bob, ours, "The deployment went fine")
    await harness.send(bob, ours, "Lunch on friday?")
    await harness.send(carol, theirs, "Secret deploy plans for Friday")
    body = await get(harness, bob, "/search", q="deploy")
    assert [m["text"] for m in body["messages"]] == [
        "The deployment went fine",
        "Deploy on Friday evening",
    ]
    assert body["terms"] == ["deploy"]
    assert body["has_more"] is False
    assert set(body["messages"][0]) == MESSAGE_KEYS
    # Every word must be there; case does not matter.
    assert await texts(harness, bob, "FRIDAY deploy") == ["Deploy on Friday evening"]
    assert await texts(harness, carol, "friday") == ["Secret deploy plans for Friday"]
    assert await texts(harness, bob, "nothing-like-this") == []
    # One chat only.
    assert await texts(harness, bob, "friday", chat_id=ours) == [
        "Lunch on friday?",
        "Deploy on Friday evening",
    ]


async def test_pages_go_back_by_id(harness: ChatHarness, alice: Person) -> None:
    chat_id = await harness.create_chat(alice, "Log")
    sent = [await harness.send(alice, chat_id, f"report number {n}") for n in range(5)]
    first = await get(harness, alice, "/search", q="report", first=2)
    assert [m["id"] for m in first["messages"]] == [sent[4]["id"], sent[3]["id"]]
    assert first["has_more"] is True
    rest = await get(harness, alice, "/search", q="report", first=5, before=sent[3]["id"])
    assert [m["id"] for m in rest["messages"]] == [m["id"] for m in reversed(sent[:3])]
    assert rest["has_more"] is False


async def test_a_removed_member_finds_nothing_more(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    chat_id = await harness.create_chat(alice, "Room", bob)
    await harness.send(alice, chat_id, "quarterly numbers")
    assert await texts(harness, bob, "quarterly") == ["quarterly numbers"]
    await harness.client.post(f"/mychat/api/chat/{chat_id}/leave", headers=bob.headers)
    assert await texts(harness, bob, "quarterly") == []


async def test_refusals(harness: ChatHarness, alice: Person, bob: Person) -> None:
    chat_id = await harness.create_chat(alice, "Room")
    for query in ("", "  !!! ", "x" * 201):
        error = await get(harness, alice, "/search", status=400, q=query)
        assert error["field"] == "query"
    assert (await get(harness, alice, "/search", status=400, q="hi", first=51))["field"] == "first"
    assert (await get(harness, alice, "/search", status=400, q="hi", first=0))["field"] == "first"
    foreign = await get(harness, bob, "/search", status=403, q="hello", chat_id=chat_id)
    assert foreign["code"] == "not_a_member"
    missing = await get(harness, alice, "/search", status=404, q="hello", chat_id=999999)
    assert missing["code"] == "not_found"


async def test_the_index_follows_edits_and_deletes(harness: ChatHarness, alice: Person) -> None:
    """Whatever changes a message's text (editing, deleting) changes what search finds."""
    chat_id = await harness.create_chat(alice, "Room")
    message = await harness.send(alice, chat_id, "original wording")
    async with harness.engine.begin() as connection:
        await connection.execute(
            text("UPDATE messages SET text = 'revised wording' WHERE id = :id"),
            {"id": message["id"]},
        )
    assert await texts(harness, alice, "original") == []
    assert await texts(harness, alice, "revised") == ["revised wording"]
    async with harness.engine.begin() as connection:
        await connection.execute(text("DELETE FROM messages WHERE id = :id"), {"id": message["id"]})
    assert await texts(harness, alice, "wording") == []


async def test_it_uses_the_full_text_index(harness: ChatHarness, alice: Person) -> None:
    """The plan names the index (FULLTEXT on MySQL, the FTS5 table on SQLite), never a scan."""
    async with harness.autocommit_engine.connect() as connection:
        if connection.dialect.name == "mysql":
            plan = (
                (
                    await connection.execute(
                        text(
                            "EXPLAIN SELECT id FROM messages"
                            " WHERE MATCH (text) AGAINST ('+word*' IN BOOLEAN MODE)"
                        )
                    )
                )
                .mappings()
                .all()
            )
            assert plan[0]["type"] == "fulltext"
            assert plan[0]["key"] == "ix_messages_text"
        else:
            steps = (
                await connection.execute(
                    text(
                        "EXPLAIN QUERY PLAN SELECT rowid FROM messages_fts"
                        " WHERE messages_fts MATCH 'word'"
                    )
                )
            ).all()
            assert "VIRTUAL TABLE INDEX" in " ".join(str(row[-1]) for row in steps)
