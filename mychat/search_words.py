"""The words a message is searched by, as both full-text indexes store them: tagged with the chat.

Each word of a message is stored once, folded (lower-cased, accents removed: "Déjà" is "deja")
and prefixed with its chat: "Deploy on Friday" in chat 42 is `c42_deploy c42_on c42_friday`
(table `message_search`). A search then asks the index only for the tags of the caller's chats
(`c42_deploy* c57_deploy*`), so its full-text work is the matches in those chats, not in every
chat: a word in most of 1,000,000 messages is a few thousand matches for a member of 20 chats.
The same text goes to MySQL/MariaDB's FULLTEXT index and SQLite's FTS5 table, folded here once,
so both find the same messages. Tagged words are never shorter than the index's minimum token
(3) nor stopwords, so "on" and "the" are found on MySQL as on SQLite.
"""

from __future__ import annotations

import re
import unicodedata

# InnoDB indexes tokens of at most 84 characters (innodb_ft_max_token_size); a tag is at most
# 21 ("c", 19 digits, "_"). Longer words are stored and searched by their first WORD_MAX.
WORD_MAX = 60
_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """Lower-cased (casefold: "ß" is "ss") and without accents or other combining marks."""
    if text.isascii():  # most messages: nothing to decompose, and casefold is lower (5x faster)
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def folded_words(text: str) -> list[str]:
    """The distinct words of a text (letters, digits, underscores), folded, in order."""
    return list(dict.fromkeys(word[:WORD_MAX] for word in _WORD.findall(fold(text))))


def chat_word(chat_id: int, word: str) -> str:
    return f"c{chat_id}_{word}"


def indexed_words(chat_id: int, text: str) -> str:
    """`message_search.words` for a message of this chat with this text."""
    return " ".join(chat_word(chat_id, word) for word in folded_words(text))
