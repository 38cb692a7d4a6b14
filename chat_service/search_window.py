"""A search's first try: the newest messages of the caller's chats, matched on their stored words.

A word in most messages fills a page from the newest few dozen messages of one's chats, while
the full-text index would hand over every match in those chats (thousands) to be read and
sorted. So a search first reads, for each chat, its newest `limit` rows of `message_search`
(clustered by chat: a page or two each) and matches the stored words itself, as the index
would: each word of the query must start one of the message's tagged words (`c42_deplo` starts
`c42_deploy`). Every message newer than `bound` (the newest of the chats' oldest rows read, for
chats that had `limit` of them) has been seen; if `limit` matches are that new, they are the
answer. Otherwise (a rarer word) None, and the caller asks the index.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from mychat.search_words import chat_word

# One chat's newest search rows, the caller's membership included. Written as SQL, not built
# with Core each time: building and compiling a union of 20-50 selects cost ~30 ms a search.
_CHAT_ROWS = (
    "SELECT s.chat_id, s.message_id, s.words FROM message_search s"
    " JOIN chat_members cm ON cm.chat_id = s.chat_id AND cm.user_id = :user_id"
    " WHERE s.chat_id = :chat_{n}{older} ORDER BY s.message_id DESC LIMIT :limit"
)


@cache
def _newest_rows_sql(mysql: bool, chats: int, older: bool) -> TextClause:
    """A UNION ALL of each chat's newest rows: parenthesised members on MySQL (derived tables
    would each be materialised), subqueries on SQLite (which has no parenthesised members)."""
    members = [
        _CHAT_ROWS.format(n=n, older=" AND s.message_id < :before" if older else "")
        for n in range(chats)
    ]
    wrapped = [f"({m})" if mysql else f"SELECT * FROM ({m})" for m in members]  # noqa: S608
    return text(" UNION ALL ".join(wrapped))


def matches(chat_id: int, stored: str, words: Sequence[str]) -> bool:
    """Whether every word starts one of the message's stored (tagged) words."""
    tagged = stored.split()
    return all(
        any(token.startswith(prefix) for token in tagged)
        for prefix in (chat_word(chat_id, word) for word in words)
    )


async def newest_matches(
    connection: AsyncConnection,
    user_id: int,
    chat_ids: Sequence[int],
    words: Sequence[str],
    *,
    limit: int,
    before: int | None,
) -> list[int] | None:
    """The ids of the newest `limit` matches in these chats (older than `before`), newest
    first, if each chat's newest `limit` messages hold them; None otherwise."""
    mysql = connection.dialect.name == "mysql"
    statement = _newest_rows_sql(mysql, len(chat_ids), before is not None)
    params: dict[str, Any] = {"user_id": user_id, "limit": limit, "before": before}
    params.update({f"chat_{n}": chat_id for n, chat_id in enumerate(chat_ids)})
    read = [(row[0], row[1], row[2]) for row in await connection.execute(statement, params)]
    per_chat: dict[int, list[int]] = {}
    for chat_id, message_id, _words in read:
        per_chat.setdefault(chat_id, []).append(message_id)
    bound = max((min(ids) for ids in per_chat.values() if len(ids) == limit), default=0)
    found = sorted(
        (
            message_id
            for chat_id, message_id, stored in read
            if message_id >= bound and matches(chat_id, stored, words)
        ),
        reverse=True,
    )
    return found[:limit] if len(found) >= limit else None
