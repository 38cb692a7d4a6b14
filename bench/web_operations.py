"""The web app's own GraphQL documents, read from web/src/operations.js (not copied).

Each `export const NAME = gql`...`` is a document; a `${OTHER}` inside it names another such
constant, whose text (a fragment) is appended once. A document with any other interpolation
(a function call building part of it) is not offered: `load()` leaves it out.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

OPERATIONS = Path(__file__).resolve().parent.parent / "web" / "src" / "operations.js"
_GQL = re.compile(r"export const (\w+) = gql`(.*?)`;", re.DOTALL)
_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")


@cache
def load(path: Path = OPERATIONS) -> dict[str, str]:
    """Name -> the full document text (its fragments included), for every plain document."""
    raw = {name: body for name, body in _GQL.findall(path.read_text(encoding="utf-8"))}
    documents: dict[str, str] = {}
    for name in raw:
        parts = _resolve(name, raw, [])
        if parts is not None:
            documents[name] = "\n".join(dict.fromkeys(parts))
    return documents


def _resolve(name: str, raw: dict[str, str], stack: list[str]) -> list[str] | None:
    """The texts a document consists of (its own first, then its fragments), or None."""
    if name not in raw or name in stack:
        return None
    own = raw[name]
    parts = [_INTERPOLATION.sub("", own).strip()]
    for reference in _INTERPOLATION.findall(own):
        nested = _resolve(reference.strip(), raw, [*stack, name])
        if nested is None:
            return None
        parts.extend(nested)
    return parts


def document(name: str) -> str:
    """One of the web app's documents by its constant's name (KeyError if it has none)."""
    return load()[name]
