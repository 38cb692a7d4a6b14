"""The services' loader of signed-out sessions (gateways ask auth_service instead: no SQL there).

auth_service owns the sessions table; chat_service only reads it, as it reads users.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mychat.db import utc_now
from mychat.revocation import Loader, RevokedMap
from mychat.tables import sessions as sessions_table


def revoked_sessions_loader(sessions: async_sessionmaker[AsyncSession]) -> Loader:
    async def load() -> RevokedMap:
        async with sessions() as session:
            return await get_revoked_sessions(session)

    return load


async def get_revoked_sessions(session: AsyncSession) -> RevokedMap:
    """Signed-out sessions whose tokens have not expired yet (what every process refuses)."""
    c = sessions_table.c
    rows = await session.execute(
        select(c.id, c.expires_at).where(c.revoked_at.is_not(None), c.expires_at > utc_now())
    )
    return {str(session_id): expires_at.timestamp() for session_id, expires_at in rows}
