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

from sqlalchemy import Row, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from mychat.search_words import chat_word
from mychat.tables import chat_members, message_search

_s, _cm = message_search.c, chat_members.c


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
    newest = []
    for chat_id in chat_ids:
        rows = (
            select(_s.chat_id, _s.message_id, _s.words)
            .join(chat_members, (_cm.chat_id == _s.chat_id) & (_cm.user_id == user_id))
            .where(_s.chat_id == chat_id)
        )
        if before is not None:
            rows = rows.where(_s.message_id < before)
        chat_rows = rows.order_by(_s.message_id.desc()).limit(limit).subquery()
        newest.append(select(chat_rows))
    read: Sequence[Row[int, int, str]] = (await connection.execute(union_all(*newest))).all()
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
