"""Read-only lookups in the users table (auth_service owns every write to it)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import User
from auth_service.validation import nickname_key
from mychat.http import ApiError


def _user_not_found(nickname: str, field: str) -> ApiError:
    shown = nickname.strip()
    shown = shown if len(shown) <= 64 else shown[:64] + "…"  # never echo a whole huge input
    return ApiError(404, "not_found", f"User {shown!r} not found", field=field)


async def get_acting_user(session: AsyncSession, user_id: int) -> User:
    """The caller's row; a valid token for a user that no longer exists is refused."""
    user = await session.get(User, user_id)
    if user is None:
        raise ApiError(401, "unauthenticated", "Unauthorized")
    return user


async def get_user_by_nickname(session: AsyncSession, nickname: str) -> User:
    user = await session.scalar(
        select(User).where(User.nickname_key == nickname_key(nickname), User.deleted_at.is_(None))
    )
    if user is None:
        raise _user_not_found(nickname, "nickname")
    return user


async def get_users_by_nicknames(session: AsyncSession, nicknames: Collection[str]) -> list[User]:
    """Every named user, or 404 naming the first unknown nickname."""
    keys = {nickname_key(nickname): nickname for nickname in nicknames}
    if not keys:
        return []
    users = (
        await session.scalars(
            select(User).where(User.nickname_key.in_(keys), User.deleted_at.is_(None))
        )
    ).all()
    found = {user.nickname_key for user in users}
    for key, nickname in keys.items():
        if key not in found:
            raise _user_not_found(nickname, "member_nicknames")
    return list(users)
