"""Message search: the words of a query in the messages of the caller's own chats, newest first.

A real full-text index on each database, never `LIKE '%...%'`: MySQL/MariaDB's InnoDB FULLTEXT
index `ix_messages_text` (`MATCH ... AGAINST` in boolean mode) and SQLite's FTS5 table
`messages_fts` (mychat.tables). Every word must appear, as a word or the start of one ("deplo"
finds "deployment"); case and (on SQLite) accents do not matter. Membership is part of the
statement (a join on the caller's `chat_members` rows), so nothing of another chat is read.
Pages go back by message id (`before`), as history does.

MySQL/MariaDB index words of at least `innodb_ft_min_token_size` characters (3 by default) and
skip their stopwords ("the", "and", ...): shorter words are left out of the query there
(`search_terms`), and a query of only such words is refused with a clear message.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, and_, bindparam, column, literal_column, select, table
from sqlalchemy.dialects.mysql import match
from sqlalchemy.ext.asyncio import AsyncConnection

from chat_service.access import check_access
from chat_service.messages import MESSAGE_COLUMNS, message_from_row
from chat_service.replies import attach_quotes
from chat_service.views import MessageView
from mychat.http import ApiError
from mychat.tables import chat_members, messages

QUERY_MAX = 200
TERMS_MAX = 8
SEARCH_PAGE_MAX = 50
MYSQL_MIN_TERM = 3  # InnoDB's innodb_ft_min_token_size default
_WORD = re.compile(r"\w+")

_m, _cm = messages.c, chat_members.c


def _invalid(message: str) -> ApiError:
    return ApiError(400, "validation_error", message, field="query")


def search_terms(query: str, *, min_length: int = 1) -> list[str]:
    """The distinct words of a query (letters, digits, underscores), lower-cased, in order;
    400 when there is nothing to search for."""
    if len(query) > QUERY_MAX:
        raise _invalid(f"A search is at most {QUERY_MAX} characters")
    words = list(dict.fromkeys(word.casefold() for word in _WORD.findall(query)))
    if not words:
        raise _invalid("Type a word to search for")
    terms = [word for word in words if len(word) >= min_length][:TERMS_MAX]
    if not terms:
        raise _invalid(f"Search words need at least {min_length} letters")
    return terms


def mysql_boolean_query(terms: list[str]) -> str:
    """Every word required, each also as the start of a longer word: `+deplo* +friday*`."""
    return " ".join(f"+{term}*" for term in terms)


def fts5_query(terms: list[str]) -> str:
    """Every word required (FTS5's implicit AND), each a quoted prefix: `"deplo"* "friday"*`."""
    return " ".join(f'"{term}"*' for term in terms)


_MINE = and_(_cm.chat_id == _m.chat_id, _cm.user_id == bindparam("user_id"))
# Deleted messages keep no text (tombstones): nothing to find, and never shown as a hit; system
# lines ("X joined", a rename's new name) are not what anyone wrote.
_SEARCHED = messages.join(chat_members, _MINE)


def _mysql_statement() -> Select[Any]:
    return (
        select(*MESSAGE_COLUMNS)
        .select_from(_SEARCHED)
        .where(match(_m.text, against=bindparam("query")).in_boolean_mode())
        .where(_m.deleted_at.is_(None), _m.kind.is_(None))
    )


# The FTS5 table (created by mychat.tables.create_schema on SQLite); `messages_fts MATCH ?`
# names the table itself, as FTS5 wants.
_FTS = table("messages_fts", column("rowid"))
_FTS_MATCH = literal_column("messages_fts").op("MATCH")(bindparam("query"))


def _sqlite_statement() -> Select[Any]:
    matching = select(_FTS.c.rowid).where(_FTS_MATCH)
    return (
        select(*MESSAGE_COLUMNS)
        .select_from(_SEARCHED)
        .where(_m.id.in_(matching))
        .where(_m.deleted_at.is_(None), _m.kind.is_(None))
    )


async def search_messages(
    connection: AsyncConnection,
    user_id: int,
    query: str,
    *,
    first: int,
    before: int | None = None,
    chat_id: int | None = None,
) -> tuple[list[MessageView], bool, list[str]]:
    """A page of the caller's messages matching every word, newest first; whether there are
    more; the words searched for (for marking them). chat_id narrows to one chat (404/403 as
    any read of it)."""
    mysql = connection.dialect.name == "mysql"
    terms = search_terms(query, min_length=MYSQL_MIN_TERM if mysql else 1)
    if chat_id is not None:
        await check_access(connection, chat_id, user_id)
    statement = _mysql_statement() if mysql else _sqlite_statement()
    if before is not None:
        statement = statement.where(_m.id < before)
    if chat_id is not None:
        statement = statement.where(_m.chat_id == chat_id)
    statement = statement.order_by(_m.id.desc()).limit(first + 1)
    text_query = mysql_boolean_query(terms) if mysql else fts5_query(terms)
    rows = (await connection.execute(statement, {"user_id": user_id, "query": text_query})).all()
    found = await attach_quotes(connection, [message_from_row(row) for row in rows[:first]])
    return found, len(rows) > first, terms
