"""Message search: the words of a query in the messages of the caller's own chats, newest first.

A real full-text index on each database, never `LIKE '%...%'`: table `message_search` holds the
words of each message someone wrote, each tagged with its chat (mychat.search_words:
`c42_deploy`), under MySQL/MariaDB's InnoDB FULLTEXT index `ix_message_search_words` and
SQLite's FTS5 table `message_search_fts`. Every word of the query must appear, as a word or the
start of one ("deplo" finds "deployment"); case and accents do not matter, on both databases.

Why tagged words: an InnoDB FULLTEXT search reads the whole posting list of each word and then
every matching row, whatever else the statement asks (bench/PROFILE.md, "Search": a word in 62%
of 1,000,000 messages took 4-15 s). Asked only for the tags of the caller's chats, the index
returns the matches in those chats and nothing else; the rows it reads are clustered by chat.
So the cost grows with the matches in the caller's chats (and ~0.1 ms per chat and word for
the lookups), not with the table.

Membership is in the statement too (a join on the caller's `chat_members` rows), so a chat left
between reading the list of chats and searching is not searched. Pages go back by message id
(`before`), as history does.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, bindparam, column, literal_column, select, table
from sqlalchemy.dialects.mysql import match
from sqlalchemy.ext.asyncio import AsyncConnection

from chat_service.access import check_access
from chat_service.messages import MESSAGE_COLUMNS, message_from_row
from chat_service.replies import attach_quotes
from chat_service.views import MessageView
from mychat.http import ApiError
from mychat.search_words import chat_word, folded_words
from mychat.tables import chat_members, chats, message_search, messages

QUERY_MAX = 200
TERMS_MAX = 8
SEARCH_PAGE_MAX = 50
# Chats per full-text statement: each costs a lookup per word (~0.1 ms on InnoDB).
CHATS_PER_STATEMENT = 50
_UNKNOWN = 2**63  # above any message id
_WORD = re.compile(r"\w+")

_m, _cm, _s, _c = messages.c, chat_members.c, message_search.c, chats.c


def _invalid(message: str) -> ApiError:
    return ApiError(400, "validation_error", message, field="query")


def search_terms(query: str) -> list[str]:
    """The distinct words of a query (letters, digits, underscores), lower-cased, in order, at
    most TERMS_MAX; 400 when there is nothing to search for."""
    if len(query) > QUERY_MAX:
        raise _invalid(f"A search is at most {QUERY_MAX} characters")
    words = list(dict.fromkeys(word.casefold() for word in _WORD.findall(query)))
    if not words:
        raise _invalid("Type a word to search for")
    return words[:TERMS_MAX]


def mysql_boolean_query(chat_ids: list[int], words: list[str]) -> str:
    """Every word required, in any of these chats, each also as the start of a longer word:
    `+(c1_deplo* c7_deplo*) +(c1_friday* c7_friday*)`."""
    return " ".join(
        "+(" + " ".join(f"{chat_word(chat_id, word)}*" for chat_id in chat_ids) + ")"
        for word in words
    )


def fts5_query(chat_ids: list[int], words: list[str]) -> str:
    """The same for FTS5: `("c1_deplo"* OR "c7_deplo"*) AND ("c1_friday"* OR "c7_friday"*)`."""
    return " AND ".join(
        "(" + " OR ".join(f'"{chat_word(chat_id, word)}"*' for chat_id in chat_ids) + ")"
        for word in words
    )


# The FTS5 table (created by mychat.tables.create_schema on SQLite); `message_search_fts MATCH ?`
# names the table itself, as FTS5 wants. Its rowid is the message id.
_FTS = table("message_search_fts", column("rowid"))
_FTS_MATCH = literal_column("message_search_fts").op("MATCH")(bindparam("query"))
_MINE = (_cm.chat_id == _s.chat_id) & (_cm.user_id == bindparam("user_id"))


def _found_ids(mysql: bool, before: int | None) -> Select[Any]:
    """The ids of the matching messages in the caller's chats older than `before`, newest
    first. On SQLite the FTS5 table drives, in its rowid (message id) order."""
    if mysql:
        found = (
            select(_s.message_id)
            .join(chat_members, _MINE)
            .where(match(_s.words, against=bindparam("query")).in_boolean_mode())
        )
        message_id: ColumnElement[int] = _s.message_id
    else:
        found = (
            select(_s.message_id)
            .select_from(_FTS)
            .join(message_search, _s.message_id == _FTS.c.rowid)
            .join(chat_members, _MINE)
            .where(_FTS_MATCH)
        )
        message_id = _FTS.c.rowid
    if before is not None:
        found = found.where(message_id < before)
    return found.order_by(message_id.desc())


async def _chats_newest_first(
    connection: AsyncConnection, user_id: int, chat_id: int | None
) -> list[tuple[int, int]]:
    """The chats searched and the newest message id of each, newest activity first. A chat
    whose newest id is not known (NULL: rows loaded around the send path) sorts first as if
    it were newer than everything, so the walk never stops before it."""
    if chat_id is not None:
        await check_access(connection, chat_id, user_id)
        mine = select(_c.id, _c.last_message_id).where(_c.id == chat_id)
    else:
        mine = select(_c.id, _c.last_message_id).join(
            chat_members, (_cm.chat_id == _c.id) & (_cm.user_id == user_id)
        )
    found = [
        (row[0], _UNKNOWN if row[1] is None else row[1]) for row in await connection.execute(mine)
    ]
    return sorted(found, key=lambda chat: (-chat[1], chat[0]))


def _page_statement(mysql: bool, first: int, before: int | None) -> Select[Any]:
    # Sorted and cut on message_search alone, then the page's messages are read: a derived
    # table with a LIMIT is not merged into the outer statement.
    page = _found_ids(mysql, before).limit(first + 1).subquery("found")
    return (
        select(*MESSAGE_COLUMNS)
        .select_from(page.join(messages, _m.id == page.c.message_id))
        .order_by(_m.id.desc())
    )


async def search_messages(
    connection: AsyncConnection,
    user_id: int,
    query: str,
    *,
    first: int,
    before: int | None = None,
    chat_id: int | None = None,
    chats_per_statement: int = CHATS_PER_STATEMENT,
) -> tuple[list[MessageView], bool, list[str]]:
    """A page of the caller's messages matching every word, newest first; whether there are
    more; the words searched for (for marking them). chat_id narrows to one chat (404/403 as
    any read of it).

    The chats are searched `chats_per_statement` at a time, newest activity first; the walk
    stops once the page is full and all of it is newer than every message of the chats left
    (their newest ids, `chats.last_message_id`): a common word in a member of many chats is
    found in the first statement."""
    mysql = connection.dialect.name == "mysql"
    terms = search_terms(query)
    chats = await _chats_newest_first(connection, user_id, chat_id)
    words = folded_words(" ".join(terms))  # as message_search stores them
    statement = _page_statement(mysql, first, before)
    rows: list[Row[Any]] = []
    for start in range(0, len(chats) if words else 0, chats_per_statement):
        group = chats[start : start + chats_per_statement]
        if len(rows) > first and rows[-1].id > group[0][1]:
            break
        ids = [chat for chat, _newest in group]
        text_query = mysql_boolean_query(ids, words) if mysql else fts5_query(ids, words)
        params = {"user_id": user_id, "query": text_query}
        rows += (await connection.execute(statement, params)).all()
        rows = sorted(rows, key=lambda row: row.id, reverse=True)[: first + 1]
    found = await attach_quotes(connection, [message_from_row(row) for row in rows[:first]])
    return found, len(rows) > first, terms
