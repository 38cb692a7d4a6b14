"""Bounds on numbers that cross service boundaries (ids in tokens, URLs, cursors, global ids)."""

from __future__ import annotations

# Every database id is a signed 64-bit key (BIGINT; SQLite's INTEGER): a larger number names
# nothing, and SQLite cannot even bind it (OverflowError), so it is refused before any query.
MAX_DATABASE_ID = 2**63 - 1
