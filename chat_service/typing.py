"""Typing indicators: a live signal to a chat's members, checked and rate-limited, never stored.

Clients send one at most every few seconds while the person types (and `typing: false` when
they stop or send); receivers drop the indicator a few seconds after the last one
(TYPING_SHOWN_SECONDS) or when that person's message arrives.
"""

from __future__ import annotations

import logging

from chat_service.access import check_access
from chat_service.endpoints import Call
from chat_service.unit_of_work import member_ids
from mychat.events import Event, EventKind
from mychat.http import RateLimited

log = logging.getLogger(__name__)

# Per user, all chats together: a client throttled to one every 3 s sends 20 a minute.
TYPING_PER_MINUTE = 60
TYPING_SHOWN_SECONDS = 6


async def publish_typing(call: Call, typing: bool) -> None:
    """Members only (404 unknown chat, 403 not a member); 429 past the rate. Addressed to the
    chat's members, so a gateway wakes only their subscriptions (Event.recipients)."""
    members = (await member_ids(call.connection, [call.chat_id]))[call.chat_id]
    if call.user_id not in members:
        await check_access(call.connection, call.chat_id, call.user_id)  # raises 404 or 403
    state = call.state
    retry_after = state.typing_limiter.retry_after(str(call.user_id))
    if retry_after > 0:
        raise RateLimited("Too many typing notices; slow down", retry_after)
    event = Event(
        EventKind.TYPING,
        call.chat_id,
        {"user": {"id": call.user_id, "nickname": call.nickname}, "typing": typing},
        recipients=frozenset(members),
    )
    try:
        await state.broker.publish(event)
    except Exception:  # a lost typing notice is harmless; the next keystroke sends another
        log.warning("could not publish a typing notice", exc_info=True)
