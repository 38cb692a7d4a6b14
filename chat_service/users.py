"""Read-only lookups in the shared users table (auth_service owns every write to it)."""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mychat.http import ApiError
from mychat.tables import chat_members, nickname_key, users


class User(NamedTuple):
    """What chat_service reads of a user."""

    id: int
    nickname: str
    nickname_key: str


# A deleted account (its row kept for its messages' sake) can neither act nor be found.
_USER = select(users.c.id, users.c.nickname, users.c.nickname_key).where(
    users.c.deleted_at.is_(None)
)


def _user_not_found(nickname: str, field: str) -> ApiError:
    shown = nickname.strip()
    shown = shown if len(shown) <= 64 else shown[:64] + "…"  # never echo a whole huge input
    return ApiError(404, "not_found", f"User {shown!r} not found", field=field)


async def get_acting_user(connection: AsyncConnection, user_id: int) -> User:
    """The caller's row; a valid token for a user that no longer exists is refused."""
    row = (await connection.execute(_USER.where(users.c.id == user_id))).first()
    if row is None:
        raise ApiError(401, "unauthenticated", "Unauthorized")
    return User(*row)


async def get_user_by_nickname(connection: AsyncConnection, nickname: str) -> User:
    statement = _USER.where(users.c.nickname_key == nickname_key(nickname))
    row = (await connection.execute(statement)).first()
    if row is None:
        raise _user_not_found(nickname, "nickname")
    return User(*row)


async def get_users_by_nicknames(
    connection: AsyncConnection, nicknames: Collection[str]
) -> list[User]:
    """Every named user, or 404 naming the first unknown nickname."""
    keys = {nickname_key(nickname): nickname for nickname in nicknames}
    if not keys:
        return []
    found = [
        User(*row) for row in await connection.execute(_USER.where(users.c.nickname_key.in_(keys)))
    ]
    found_keys = {user.nickname_key for user in found}
    for key, nickname in keys.items():
        if key not in found_keys:
            raise _user_not_found(nickname, "member_nicknames")
    return found


async def get_contacts(
    connection: AsyncConnection, user_id: int, ids: Collection[int]
) -> list[User]:
    """Those of `ids` the caller may see: themselves and people sharing a chat with them.

    Anyone else is left out as if unknown, so user ids cannot be walked to harvest the
    directory of nicknames (adding someone takes their exact nickname instead).
    """
    if not ids:
        return []
    my_chats = select(chat_members.c.chat_id).where(chat_members.c.user_id == user_id)
    sharing = select(chat_members.c.user_id).where(chat_members.c.chat_id.in_(my_chats))
    statement = _USER.where(
        users.c.id.in_(ids), or_(users.c.id == user_id, users.c.id.in_(sharing))
    )
    return [User(*row) for row in await connection.execute(statement)]
