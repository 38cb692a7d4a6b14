"""The web app's own GraphQL documents, read from web/src/operations.js (not copied).

Two readings. `load()`/`document()` parse the file here: each `export const NAME = gql`...``
is a document; a `${OTHER}` inside it names another such constant, whose text (a fragment) is
appended once. A document with any other interpolation (a function call building part of it)
is not offered. `sent()` asks Node to import the module and print each document as Apollo
Client puts it on the wire (the cache adds `__typename` to every selection): every document,
byte for byte what the browser sends; the benchmarks use this one.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

WEB = Path(__file__).resolve().parent.parent / "web"
OPERATIONS = WEB / "src" / "operations.js"
PRINTER = Path(__file__).resolve().parent / "web_documents.mjs"
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


@cache
def sent_documents(web: Path = WEB) -> dict[str, str]:
    """Name -> the document as the web app sends it (needs Node and `make install`'s web deps)."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed: the web app's documents cannot be read")
    printed = subprocess.run(
        [node, str(PRINTER), str(web)], capture_output=True, text=True, timeout=60, check=False
    )
    if printed.returncode != 0:
        raise RuntimeError(f"reading web/src/operations.js failed: {printed.stderr[-2000:]}")
    documents: dict[str, str] = json.loads(printed.stdout)
    return documents


def sent(name: str) -> str:
    """One document by its constant's name, as Apollo Client sends it (KeyError if none)."""
    return sent_documents()[name]
