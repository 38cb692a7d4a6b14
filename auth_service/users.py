"""Domain functions on users; they flush, the caller's unit of work commits."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import User
from auth_service.passwords import Passwords
from auth_service.validation import Credentials, Registration
from mychat.db import utc_now
from mychat.http import ApiError
from mychat.tables import nickname_key

MAX_IDS_PER_LOOKUP = 500
DELETED_NICKNAME = "Deleted user"


class InvalidCredentials(ApiError):
    """Unknown login and wrong password: one answer, so logins cannot be probed."""

    def __init__(self) -> None:
        # 400 rather than 401: the seed answered 400 and its pages expect it.
        super().__init__(400, "invalid_credentials", "Invalid login or password")


def conflict(field: str) -> ApiError:
    what = "login" if field == "login" else "nickname"
    return ApiError(409, "conflict", f"This {what} is already taken", field=field)


async def do_register(
    session: AsyncSession, registration: Registration, password_hash: str
) -> User:
    """Insert the user; 409 when the login or nickname is taken, also by a concurrent insert."""
    key = nickname_key(registration.nickname)
    taken = (
        await session.execute(
            select(User.login, User.nickname_key).where(
                (User.login == registration.login) | (User.nickname_key == key)
            )
        )
    ).all()
    if any(login == registration.login for login, _ in taken):
        raise conflict("login")
    if taken:
        raise conflict("nickname")
    user = User(
        login=registration.login,
        nickname=registration.nickname,
        nickname_key=key,
        password_hash=password_hash,
    )
    session.add(user)
    try:
        # The unique indexes decide when two registrations race past the check above.
        await session.flush()
    except IntegrityError as error:
        raise conflict(_violated_field(error)) from error
    return user


async def authenticate_user(
    session: AsyncSession, passwords: Passwords, credentials: Credentials
) -> User:
    """The user whose password matches, rehashed if the parameters changed; else 400."""
    user = await get_user_by_login(session, credentials.login)
    if not await passwords.verify(
        None if user is None else user.password_hash, credentials.password
    ):
        raise InvalidCredentials()
    assert user is not None  # verify() is never true without a stored hash
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash(credentials.password)
        await session.flush()
    return user


async def get_user_by_login(session: AsyncSession, login: str) -> User | None:
    result = await session.execute(
        select(User).where(User.login == login.lower(), User.deleted_at.is_(None))
    )
    return result.scalar_one_or_none()


async def get_active_user(session: AsyncSession, user_id: int) -> User:
    """The caller's row, locked for an account change; 401 once the account is deleted."""
    user = await session.get(User, user_id, with_for_update=True)
    if user is None or user.deleted_at is not None:
        raise ApiError(401, "unauthenticated", "Unauthorized")
    return user


async def do_erase_account(session: AsyncSession, user: User) -> None:
    """Erase login, nickname and password hash; the row stays so messages keep a sender.

    The placeholders cannot collide with real accounts: '#' is allowed in neither logins nor
    nicknames, and the id makes each unique.
    """
    user.login = f"#deleted-{user.id}"
    user.nickname = DELETED_NICKNAME
    user.nickname_key = f"#deleted-{user.id}"
    user.password_hash = ""
    user.deleted_at = utc_now()
    await session.flush()


async def get_users_by_ids(session: AsyncSession, ids: Sequence[int]) -> list[User]:
    """The users that exist among ids, in the order asked, each once."""
    unique_ids = list(dict.fromkeys(ids))
    if not unique_ids:
        return []
    result = await session.execute(select(User).where(User.id.in_(unique_ids)))
    by_id = {user.id: user for user in result.scalars()}
    return [by_id[user_id] for user_id in unique_ids if user_id in by_id]


def _violated_field(error: IntegrityError) -> str:
    # MariaDB names the key (uq_users_nickname_key), SQLite the column (users.nickname_key).
    return "nickname" if "nickname" in str(error.orig) else "login"
