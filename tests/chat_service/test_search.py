"""Message search through the full-text index of each database: words, own chats only, newest
first, pages, and the refusals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert, inspect, select, text

from chat_service.search import search_messages
from mychat.db import create_engine, utc_now
from mychat.search_words import indexed_words
from mychat.settings import Settings
from mychat.tables import chat_members, chats, create_schema, message_search, messages, users
from tests.chat_service.conftest import ChatHarness
from tests.chat_service.test_internal import MESSAGE_KEYS, get, post
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
    await post(harness, alice, f"/messages/{message['id']}/edit", {"text": "revised wording"})
    assert await texts(harness, alice, "original") == []
    assert await texts(harness, alice, "revised") == ["revised wording"]
    await post(harness, alice, f"/messages/{message['id']}/delete", None)
    assert await texts(harness, alice, "wording") == []
    async with harness.engine.connect() as connection:
        rows = await connection.execute(select(message_search.c.words))
        assert rows.scalars().all() == [""]  # the words are gone from the index too


async def test_short_words_accents_and_scripts_alike_on_both_databases(
    harness: ChatHarness, alice: Person
) -> None:
    """Every word counts, however short or common ("on", "a"), on MySQL as on SQLite (the
    index stores words tagged with their chat, never shorter than InnoDB's minimum token nor
    a stopword); case and accents do not matter; any script."""
    chat_id = await harness.create_chat(alice, "Room")
    await harness.send(alice, chat_id, "Meet on a boat")
    await harness.send(alice, chat_id, "Déjà vu, Straße")
    await harness.send(alice, chat_id, "Привет, мир")
    assert await texts(harness, alice, "on a") == ["Meet on a boat"]
    assert await texts(harness, alice, "the") == []
    assert await texts(harness, alice, "DEJA") == ["Déjà vu, Straße"]
    assert await texts(harness, alice, "déjà strasse") == ["Déjà vu, Straße"]
    assert await texts(harness, alice, "прив МИР") == ["Привет, мир"]
    body = await get(harness, alice, "/search", q="Déjà")
    assert body["terms"] == ["déjà"]


async def test_pages_run_across_chats_newest_first(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    first_chat = await harness.create_chat(alice, "One", bob)
    second_chat = await harness.create_chat(bob, "Two", alice)
    sent = [
        await harness.send(alice, (first_chat, second_chat)[n % 2], f"status {n}") for n in range(7)
    ]
    newest_first = [m["id"] for m in reversed(sent)]
    seen: list[int] = []
    before = None
    while True:
        params: dict[str, Any] = {"q": "status", "first": 3}
        if before is not None:
            params["before"] = before
        page = await get(harness, bob, "/search", **params)
        seen += [m["id"] for m in page["messages"]]
        if not page["has_more"]:
            break
        before = page["messages"][-1]["id"]
    assert seen == newest_first


async def test_many_chats_are_searched_a_few_at_a_time_newest_activity_first(
    harness: ChatHarness, alice: Person
) -> None:
    """Searched one chat per statement, the pages are the same as in one statement; the walk
    stops once the page is newer than every chat left (here the fourth chat is not searched)."""
    c1, c2, c3, c4 = [await harness.create_chat(alice, f"Chat {n}") for n in range(1, 5)]
    sent = {}
    for chat, text_ in ((c1, "alpha 1"), (c2, "alpha 2"), (c3, "beta 3"), (c4, "alpha 4")):
        sent[text_] = (await harness.send(alice, chat, text_))["id"]
    sent["alpha 5"] = (await harness.send(alice, c1, "alpha 5"))["id"]
    await harness.send(alice, c2, "gamma 6")  # c2 is the newest activity, its match is older
    await harness.indexed()
    statements: list[str] = []

    def seen(*args: Any) -> None:
        if "MATCH" in args[2]:
            statements.append(args[2])

    async def page(first: int, per: int, before: int | None = None) -> tuple[list[str], bool]:
        async with harness.autocommit_engine.connect() as connection:
            found, more, _ = await search_messages(
                connection, alice.id, "alpha", first=first, before=before, chats_per_statement=per
            )
        return [m.text for m in found], more

    engine = harness.autocommit_engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for per in (1, 2, 50):
            assert await page(2, per) == (["alpha 5", "alpha 4"], True)
            assert await page(2, per, before=sent["alpha 4"]) == (["alpha 2", "alpha 1"], False)
            assert await page(10, per) == (["alpha 5", "alpha 4", "alpha 2", "alpha 1"], False)
        statements.clear()
        assert await page(1, 1) == (["alpha 5"], True)
        assert len(statements) == 3  # c2, c1, c4; not c3 (newest id older than "alpha 4")
    finally:
        event.remove(engine, "before_cursor_execute", seen)


THEIRS = 30


async def test_only_the_callers_chats_are_read(
    harness: ChatHarness, alice: Person, bob: Person
) -> None:
    """The full-text index is asked for the caller's chats only: a word all over someone
    else's chat costs nothing to a search of mine (MariaDB counts the rows each statement
    reads; an index over the bare words would hand every match to the statement)."""
    mine = await harness.create_chat(alice, "Mine")
    theirs = await harness.create_chat(bob, "Theirs")
    await harness.send(alice, mine, "common ground")
    await harness.indexed()
    async with harness.engine.begin() as connection:
        for _ in range(THEIRS):
            sent = await connection.execute(
                insert(messages).values(chat_id=theirs, sender_id=bob.id, text="common")
            )
            await connection.execute(
                insert(message_search).values(
                    chat_id=theirs,
                    message_id=sent.lastrowid,
                    words=indexed_words(theirs, "common"),
                )
            )
    async with harness.autocommit_engine.connect() as connection:
        mysql = connection.dialect.name == "mysql"
        read = "SHOW SESSION STATUS LIKE 'Rows_read'"
        before = int((await connection.exec_driver_sql(read)).scalars(1).one()) if mysql else 0
        found, more, _ = await search_messages(connection, alice.id, "common", first=20)
        after = int((await connection.exec_driver_sql(read)).scalars(1).one()) if mysql else 0
    assert [m.text for m in found] == ["common ground"]
    assert more is False
    if mysql:
        # My chats, my one match, its message and sender, the status query: not their matches.
        assert after - before < THEIRS


async def test_it_uses_the_full_text_index(harness: ChatHarness, alice: Person) -> None:
    """The plan names the index (FULLTEXT on MySQL, the FTS5 table on SQLite), never a scan."""
    async with harness.autocommit_engine.connect() as connection:
        if connection.dialect.name == "mysql":
            plan = (
                (
                    await connection.execute(
                        text(
                            "EXPLAIN SELECT message_id FROM message_search"
                            " WHERE MATCH (words) AGAINST ('+(c1_word*)' IN BOOLEAN MODE)"
                        )
                    )
                )
                .mappings()
                .all()
            )
            assert plan[0]["type"] == "fulltext"
            assert plan[0]["key"] == "ix_message_search_words"
        else:
            steps = (
                await connection.execute(
                    text(
                        "EXPLAIN QUERY PLAN SELECT rowid FROM message_search_fts"
                        " WHERE message_search_fts MATCH '\"c1_word\"*'"
                    )
                )
            ).all()
            assert "VIRTUAL TABLE INDEX" in " ".join(str(row[-1]) for row in steps)


async def test_an_older_sqlite_file_gets_its_messages_indexed(sqlite_settings: Settings) -> None:
    """A data folder from before message_search (messages, and the first FTS5 table over
    messages.text) is indexed when the service starts."""
    engine = create_engine(sqlite_settings)
    try:
        await create_schema(engine)
        async with engine.begin() as connection:
            now = utc_now()
            await connection.execute(
                insert(users).values(
                    id=1, login="a", nickname="A", nickname_key="a", password_hash="x"
                )
            )
            await connection.execute(insert(chats).values(id=1, name="Old"))
            await connection.execute(insert(chat_members).values(chat_id=1, user_id=1))
            for text_, kind in (("old news", None), ("renamed news", "renamed")):
                await connection.execute(
                    insert(messages).values(
                        chat_id=1, sender_id=1, text=text_, kind=kind, created_at=now
                    )
                )
            await connection.exec_driver_sql("DROP TABLE message_search_fts")
            await connection.exec_driver_sql(
                "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages',"
                " content_rowid='id')"
            )
        await create_schema(engine)
        await create_schema(engine)  # and again: nothing more to do
        async with engine.connect() as connection:
            found, _, _ = await search_messages(connection, 1, "news", first=20)
            assert [m.text for m in found] == ["old news"]
            assert not await connection.run_sync(
                lambda sync: inspect(sync).has_table("messages_fts")
            )
    finally:
        await engine.dispose()
