"""Read-only lookups in the users table (auth_service owns every write to it)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import User
from auth_service.validation import nickname_key
from mychat.http import ApiError


async def get_acting_user(session: AsyncSession, user_id: int) -> User:
    """The caller's row; a valid token for a user that no longer exists is refused."""
    user = await session.get(User, user_id)
    if user is None:
        raise ApiError(401, "unauthenticated", "Unauthorized")
    return user


async def get_user_by_nickname(session: AsyncSession, nickname: str) -> User:
    user = await session.scalar(select(User).where(User.nickname_key == nickname_key(nickname)))
    if user is None:
        raise ApiError(404, "not_found", f"User {nickname.strip()!r} not found", field="nickname")
    return user


async def get_users_by_nicknames(session: AsyncSession, nicknames: Collection[str]) -> list[User]:
    """Every named user, or 404 naming the first unknown nickname."""
    keys = {nickname_key(nickname): nickname for nickname in nicknames}
    if not keys:
        return []
    users = (await session.scalars(select(User).where(User.nickname_key.in_(keys)))).all()
    found = {user.nickname_key for user in users}
    for key, nickname in keys.items():
        if key not in found:
            raise ApiError(
                404, "not_found", f"User {nickname.strip()!r} not found", field="member_nicknames"
            )
    return list(users)
