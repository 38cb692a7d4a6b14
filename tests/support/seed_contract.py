"""What the seed's pages read from the REST API, pinned once for every test of that contract."""

from __future__ import annotations

# The keys of a message in REST history and in a send's answer (the send adds `client_id`).
SEED_MESSAGE_KEYS = frozenset(
    {"id", "chat_id", "sender_id", "sender_nickname", "text", "date_sent"}
)
