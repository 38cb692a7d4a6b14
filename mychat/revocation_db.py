"""The services' loader of signed-out sessions (gateways ask auth_service instead: no SQL there).

auth_service owns the sessions table; chat_service only reads it, as it reads users. The table
is named here with the few columns this query needs (a lightweight Core construct, not the
model), so the shared library imports no service.
"""

from __future__ import annotations

from sqlalchemy import column, select, table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mychat.db import UTCDateTime, utc_now
from mychat.revocation import Loader, RevokedMap

_sessions = table(
    "sessions",
    column("id"),
    column("expires_at", UTCDateTime()),
    column("revoked_at", UTCDateTime()),
)


def revoked_sessions_loader(sessions: async_sessionmaker[AsyncSession]) -> Loader:
    async def load() -> RevokedMap:
        async with sessions() as session:
            return await get_revoked_sessions(session)

    return load


async def get_revoked_sessions(session: AsyncSession) -> RevokedMap:
    """Signed-out sessions whose tokens have not expired yet (what every process refuses)."""
    c = _sessions.c
    rows = await session.execute(
        select(c.id, c.expires_at).where(c.revoked_at.is_not(None), c.expires_at > utc_now())
    )
    return {str(session_id): expires_at.timestamp() for session_id, expires_at in rows}
