"""mychat.search_words: the ASCII shortcut of `fold` folds as the general path does."""

from __future__ import annotations

import unicodedata

from mychat.search_words import fold, indexed_words


def _general(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def test_ascii_folds_as_any_text_does() -> None:
    every_ascii = "".join(chr(code) for code in range(128))
    assert fold(every_ascii) == _general(every_ascii)
    assert fold("Déjà Straße") == "deja strasse"
    assert indexed_words(7, "Deploy on FRIDAY, deploy!") == "c7_deploy c7_on c7_friday"
