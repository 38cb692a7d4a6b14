"""Sessions: one row per sign-in, listed to their owner and signed out one by one or all at once.

Domain functions flush; the caller's unit of work commits and then publishes the revocation
(mychat.revocation), so no process refuses a token for a sign-out that was rolled back.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import Session
from mychat.db import utc_now
from mychat.http import not_found
from mychat.revocation import RevokedMap
from mychat.tables import DEVICE_MAX

# Browsers and tools, most specific first (Edge and Opera also say "Chrome", Chrome "Safari").
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
    ("python-httpx/", "Python httpx"),
    ("aiohttp", "Python aiohttp"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
_PRINTABLE = re.compile(r"[^\x20-\x7e]")
UNKNOWN_DEVICE = "Unknown device"


def device_label(user_agent: str | None) -> str:
    """A short name for the device a session signed in from: "Firefox on Linux"."""
    if not user_agent or not user_agent.strip():
        return UNKNOWN_DEVICE
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), None)
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system or UNKNOWN_DEVICE
    # Unknown clients: their own words, printable and short.
    return _PRINTABLE.sub("", user_agent).strip()[: DEVICE_MAX - 1] or UNKNOWN_DEVICE


def new_session_id() -> str:
    return secrets.token_hex(16)


async def do_start_session(
    session: AsyncSession, user_id: int, device: str, ttl: timedelta, now: datetime
) -> Session:
    row = Session(
        id=new_session_id(),
        user_id=user_id,
        device=device,
        created_at=now,
        last_used_at=now,
        expires_at=now + ttl,
        revoked_at=None,
    )
    session.add(row)
    await session.flush()
    return row


async def get_active_sessions(session: AsyncSession, user_id: int) -> list[Session]:
    """The user's sessions that are neither signed out nor expired, most recently used first."""
    rows = await session.scalars(
        select(Session)
        .where(
            Session.user_id == user_id,
            Session.revoked_at.is_(None),
            Session.expires_at > utc_now(),
        )
        .order_by(Session.last_used_at.desc(), Session.id)
    )
    return list(rows)


async def do_revoke_sessions(
    session: AsyncSession,
    user_id: int,
    *,
    only: str | None = None,
    keep: str | None = None,
) -> RevokedMap:
    """Sign out the user's active sessions (just `only`, or all but `keep`); 404 when `only`
    is not one of them. Answers what was revoked, for the event published after commit."""
    active: Sequence[Session] = await get_active_sessions(session, user_id)
    if only is not None:
        active = [row for row in active if row.id == only]
        if not active:
            raise not_found("Session")
    chosen = [row for row in active if row.id != keep]
    if not chosen:
        return {}
    now = utc_now()
    await session.execute(
        update(Session)
        .where(Session.id.in_([row.id for row in chosen]), Session.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return {row.id: row.expires_at.timestamp() for row in chosen}


async def touch_session(session: AsyncSession, session_id: str, user_id: int) -> None:
    """Record that the session was used now (the gateway calls this at most once a minute)."""
    await session.execute(
        update(Session)
        .where(Session.id == session_id, Session.user_id == user_id)
        .values(last_used_at=utc_now())
        .execution_options(synchronize_session=False)
    )
