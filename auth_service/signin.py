"""What signing in shares with the account endpoints: the password check and a new session."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from auth_service.models import User
from auth_service.ratelimits import client_address
from auth_service.sessions import device_label, do_start_session
from auth_service.state import AuthState
from auth_service.users import InvalidCredentials, authenticate_user
from auth_service.validation import Credentials
from mychat.db import utc_now
from mychat.service import resources


async def start_session(session: AsyncSession, request: Request, user: User) -> str:
    """A new session for the user (in the caller's unit of work); answers its token."""
    tokens = resources(request).tokens
    now = utc_now().replace(microsecond=0)  # the token's iat has whole seconds
    device = device_label(request.headers.get("user-agent"))
    row = await do_start_session(session, user.id, device, tokens.ttl, now)
    return tokens.issue(
        user_id=user.id, login=user.login, nickname=user.nickname, session_id=row.id, issued_at=now
    )


async def check_password_of(
    session: AsyncSession, request: Request, state: AuthState, credentials: Credentials
) -> User:
    """The user if the password is right, else 400; wrong passwords slow this address down
    for this login (429 with Retry-After while it must wait), never anyone else."""
    address = client_address(request)
    state.limits.failed_logins.check(address, credentials.login)
    try:
        user = await authenticate_user(session, state.passwords, credentials)
    except InvalidCredentials:
        state.limits.failed_logins.failed(address, credentials.login)
        raise
    state.limits.failed_logins.succeeded(address, credentials.login)
    return user
