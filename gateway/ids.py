"""Relay-style global ids: base64("Type:databaseId"), so Apollo can normalise every object."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

from mychat.bounds import MAX_DATABASE_ID


class InvalidGlobalId(ValueError):
    """The id is not one of ours, or names another type than the one expected."""


def to_global_id(type_name: str, database_id: int) -> str:
    return base64.b64encode(f"{type_name}:{database_id}".encode()).decode()


@lru_cache(maxsize=4096)
def shared_global_id(type_name: str, database_id: int) -> str:
    """to_global_id for ids that repeat across objects (a page's senders, its chat): remembered
    for the most recent few thousand."""
    return to_global_id(type_name, database_id)


def from_global_id(global_id: str) -> tuple[str, int]:
    if len(global_id) > 100:
        raise InvalidGlobalId("id too long")
    try:
        decoded = base64.b64decode(global_id.encode(), validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError) as error:
        raise InvalidGlobalId("malformed id") from error
    type_name, separator, raw_id = decoded.partition(":")
    if not separator or not raw_id.isdigit() or not raw_id.isascii() or len(raw_id) > 19:
        raise InvalidGlobalId("malformed id")
    value = int(raw_id)
    if value > MAX_DATABASE_ID:
        raise InvalidGlobalId("no such id")
    return type_name, value


def database_id(global_id: str, expected_type: str) -> int:
    """The database id inside a global id of the expected type."""
    type_name, value = from_global_id(global_id)
    if type_name != expected_type:
        raise InvalidGlobalId(f"expected a {expected_type} id")
    return value


def message_cursor_id(cursor: str) -> int:
    """A message cursor: a Message global id, or a bare database id (handy in GraphiQL)."""
    if cursor.isdigit() and cursor.isascii():
        if len(cursor) > 19 or int(cursor) > MAX_DATABASE_ID:
            raise InvalidGlobalId("no such message")
        return int(cursor)
    return database_id(cursor, "Message")
