"""Checks on names people show to each other (nicknames, chat names), shared by both services.

A name is stored NFC-normalised, so the same text typed on two keyboards is the same name. It
must hold at least one visible letter, digit or symbol (emoji included: "🎉" is a fine chat
name; nicknames allow no symbols, so theirs is a letter or digit), since a name of combining
marks, spaces or format characters alone shows as nothing. It must hold no bidirectional
control characters (U+202A-U+202E, U+2066-U+2069, and the marks U+200E, U+200F, U+061C):
they reorder the text around them, so "Alice\u202egnp.exe" reads as something it is not.
"""

from __future__ import annotations

import unicodedata

BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)


class NameProblem(ValueError):
    """Why a name is refused, in words for the person who typed it."""


def normalise_name(value: str, label: str) -> str:
    """The name as stored (NFC, trimmed), or NameProblem."""
    name = unicodedata.normalize("NFC", value).strip()
    if any(char in BIDI_CONTROLS for char in name):
        raise NameProblem(f"{label} must not contain bidirectional control characters")
    if not any(unicodedata.category(char)[0] in "LNS" for char in name):
        raise NameProblem(f"{label} must contain at least one visible letter, digit or symbol")
    return name
