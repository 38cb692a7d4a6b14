"""Internal endpoints for what a person does to their own account (docs/internal-api.md).

Sessions listed and signed out, the password changed, the account deleted. Every sign-out is
committed first, then refused by this process at once and announced on the broker, so every
other process refuses the token too (mychat.revocation).
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from auth_service.models import User
from auth_service.sessions import do_revoke_sessions, get_active_sessions, touch_session
from auth_service.signin import check_password_of
from auth_service.state import auth_state
from auth_service.users import InvalidCredentials, do_erase_account, get_active_user
from auth_service.validation import Credentials, check_password, invalid, require_strings
from mychat.db import session_scope
from mychat.events import Event, EventKind
from mychat.http import ApiError, JSONResponse, read_json_object
from mychat.revocation import RevokedMap, revocation_event
from mychat.revocation_db import get_revoked_sessions
from mychat.service import authenticate, resources
from mychat.tokens import TokenClaims

log = logging.getLogger(__name__)


async def _announce(request: Request, claims: TokenClaims, revoked: RevokedMap) -> None:
    """Refuse the revoked sessions here now, and tell every other process."""
    if not revoked:
        return
    resources(request).tokens.revoked.revoke(revoked)
    try:
        await auth_state(request).broker.publish(revocation_event(claims.user_id, revoked))
    except Exception:  # committed: a process that missed it reloads when its broker reconnects
        log.exception("could not publish the revocation of %d sessions", len(revoked))


async def list_sessions(request: Request) -> Response:
    claims = authenticate(request)
    async with session_scope(resources(request).sessions) as session:
        rows = await get_active_sessions(session, claims.user_id)
        body = {
            "sessions": [
                {
                    "id": row.id,
                    "device": row.device,
                    "created_at": row.created_at,
                    "last_used_at": row.last_used_at,
                    "current": row.id == claims.session_id,
                }
                for row in rows
            ]
        }
    return JSONResponse(body)


async def end_session(request: Request) -> Response:
    """Sign out one of the caller's sessions (this one included) by id; 404 for any other."""
    claims = authenticate(request)
    body = await read_json_object(request)
    session_id = body.get("session_id")
    if not isinstance(session_id, str) or not session_id:
        raise invalid("session_id", "session_id is required")
    return await _revoke(request, claims, only=session_id)


async def sign_out(request: Request) -> Response:
    """Sign out the session of the token this request carries."""
    claims = authenticate(request)
    if not claims.session_id:
        raise invalid("token", "This token has no session to sign out")
    return await _revoke(request, claims, only=claims.session_id)


async def sign_out_everywhere(request: Request) -> Response:
    return await _revoke(request, authenticate(request))


async def _revoke(request: Request, claims: TokenClaims, *, only: str | None = None) -> Response:
    async with session_scope(resources(request).sessions) as session:
        revoked = await do_revoke_sessions(session, claims.user_id, only=only)
    await _announce(request, claims, revoked)
    return JSONResponse({"signed_out": len(revoked)})


async def touch(request: Request) -> Response:
    """The caller's session was used now (its "last used" in the sessions list)."""
    claims = authenticate(request)
    if claims.session_id:
        async with session_scope(resources(request).sessions) as session:
            await touch_session(session, claims.session_id, claims.user_id)
    return JSONResponse({"status": "ok"})


async def revoked_sessions(request: Request) -> Response:
    """Signed-out sessions whose tokens have not expired, for a gateway's cache (no token:
    the ids are random and useless once revoked; /internal/ is never routed by nginx)."""
    async with session_scope(resources(request).sessions) as session:
        revoked = await get_revoked_sessions(session)
    return JSONResponse({"sessions": revoked})


async def change_password(request: Request) -> Response:
    """The old password is required; every other session of the user is signed out."""
    claims = authenticate(request)
    state = auth_state(request)
    fields = require_strings(await read_json_object(request), ("old_password", "new_password"))
    try:
        new_password = check_password(
            fields["new_password"], login=claims.login, nickname=claims.nickname
        )
    except ApiError as error:  # the same rules as at registration, named for this field
        raise invalid("new_password", error.message) from error
    if new_password == fields["old_password"]:
        raise invalid("new_password", "The new password is the same as the old one")
    new_hash = await state.passwords.hash(new_password)
    async with session_scope(resources(request).sessions) as session:
        user = await _confirmed_user(
            request, session, claims, fields["old_password"], "old_password"
        )
        user.password_hash = new_hash
        revoked = await do_revoke_sessions(session, claims.user_id, keep=claims.session_id)
    await _announce(request, claims, revoked)
    return JSONResponse({"status": "ok", "signed_out": len(revoked)})


async def delete_account(request: Request) -> Response:
    """Erase login, nickname and password (the password confirms it); sign out everywhere;
    announce it so chat_service takes the user out of every chat."""
    claims = authenticate(request)
    fields = require_strings(await read_json_object(request), ("password",))
    async with session_scope(resources(request).sessions) as session:
        user = await _confirmed_user(request, session, claims, fields["password"], "password")
        revoked = await do_revoke_sessions(session, claims.user_id)
        await do_erase_account(session, user)
    await _announce(request, claims, revoked)
    try:
        await auth_state(request).broker.publish(
            Event(EventKind.ACCOUNT_DELETED, 0, {"user_id": claims.user_id})
        )
    except Exception:  # chat_service also looks for deleted members when it (re)connects
        log.exception("could not publish the deletion of user %d", claims.user_id)
    return JSONResponse({"status": "ok"})


async def _confirmed_user(
    request: Request, session: AsyncSession, claims: TokenClaims, password: str, field: str
) -> User:
    """The caller's row (locked) once `password` is theirs; a wrong one is a 400 naming the
    field and counts as a failed sign-in from this address."""
    user = await get_active_user(session, claims.user_id)
    try:
        await check_password_of(
            session, request, auth_state(request), Credentials(user.login, password)
        )
    except InvalidCredentials as error:
        raise invalid(field, "The password is wrong") from error
    return user


def account_routes() -> list[BaseRoute]:
    return [
        Route("/internal/sessions", list_sessions, methods=["GET"]),
        Route("/internal/sessions/end", end_session, methods=["POST"]),
        Route("/internal/sessions/sign-out", sign_out, methods=["POST"]),
        Route("/internal/sessions/sign-out-everywhere", sign_out_everywhere, methods=["POST"]),
        Route("/internal/sessions/touch", touch, methods=["POST"]),
        Route("/internal/sessions/revoked", revoked_sessions, methods=["GET"]),
        Route("/internal/account/password", change_password, methods=["POST"]),
        Route("/internal/account/delete", delete_account, methods=["POST"]),
    ]
