"""HTTP layer of auth_service: the seed's public endpoints and the gateway's internal ones."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from auth_service.account_routes import account_routes
from auth_service.models import User
from auth_service.signin import check_password_of, start_session
from auth_service.state import auth_state
from auth_service.users import (
    MAX_IDS_PER_LOOKUP,
    do_register,
    get_users_by_ids,
)
from auth_service.validation import check_credentials, check_registration, invalid
from mychat.db import session_scope
from mychat.http import ApiError, JSONResponse, read_json_object
from mychat.service import authenticate, resources
from mychat.tokens import InvalidToken, bearer_token

PUBLIC_PREFIX = "/mychat/api/auth"
# Fits a BIGINT: longer digit strings cannot be an id.
_ID = re.compile(r"[0-9]{1,18}")


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "login": user.login, "nickname": user.nickname}


async def register(request: Request) -> Response:
    state = auth_state(request)
    state.limits.check_client("register", request)
    registration = check_registration(await read_json_object(request))
    state.limits.check_login("register", registration.login)
    # Hash before the unit of work: no database connection is held while argon2 runs.
    password_hash = await state.passwords.hash(registration.password)
    async with session_scope(resources(request).sessions) as session:
        user = await do_register(session, registration, password_hash)
        body = {"token": await start_session(session, request, user), "user": user_json(user)}
    # 200, not 201: the seed answered 200 and its clients check for it.
    return JSONResponse(body)


async def login(request: Request) -> Response:
    state = auth_state(request)
    state.limits.check_client("login", request)
    credentials = check_credentials(await read_json_object(request))
    async with session_scope(resources(request).sessions) as session:
        user = await check_password_of(session, request, state, credentials)
        body = {"token": await start_session(session, request, user), "user": user_json(user)}
    return JSONResponse(body)


async def verify(request: Request) -> Response:
    """The seed's check: {"valid": true, "payload"} or {"valid": false} with 400 or 401."""
    try:
        token = await _token_to_verify(request)
    except ApiError as error:
        return JSONResponse({"valid": False, **error.body()}, status_code=error.status)
    if token is None:
        missing = invalid("token", "Token is required")
        return JSONResponse({"valid": False, **missing.body()}, status_code=400)
    try:
        claims = resources(request).tokens.verify(token)
    except InvalidToken:
        return JSONResponse(
            {"valid": False, "error": "Invalid or expired token", "code": "invalid_token"},
            status_code=401,
        )
    return JSONResponse({"valid": True, "payload": claims.seed_payload()})


async def _token_to_verify(request: Request) -> str | None:
    """The token from the JSON body, as the seed's pages send it; else the Authorization header."""
    body: dict[str, Any] = {}
    if (await request.body()).strip():
        body = await read_json_object(request)
    token = body.get("token")
    if token is None or token == "":
        return bearer_token(request.headers.get("authorization"))
    if not isinstance(token, str):
        raise invalid("token", "token must be a string")
    return token


async def internal_users(request: Request) -> Response:
    authenticate(request)
    ids = _parse_ids(request)
    async with session_scope(resources(request).sessions) as session:
        users = [user_json(user) for user in await get_users_by_ids(session, ids)]
    return JSONResponse({"users": users})


def _parse_ids(request: Request) -> list[int]:
    values = request.query_params.getlist("ids")
    if not values:
        raise invalid("ids", "ids is required (comma-separated user ids)")
    parts = [part.strip() for value in values for part in value.split(",")]
    if parts == [""]:
        return []
    if len(parts) > MAX_IDS_PER_LOOKUP:
        raise invalid("ids", f"At most {MAX_IDS_PER_LOOKUP} ids at once")
    if not all(_ID.fullmatch(part) for part in parts):
        raise invalid("ids", "ids must be comma-separated integers")
    return [int(part) for part in parts]


def auth_routes() -> list[BaseRoute]:
    return [
        *account_routes(),
        Route(f"{PUBLIC_PREFIX}/register", register, methods=["POST"]),
        Route(f"{PUBLIC_PREFIX}/login", login, methods=["POST"]),
        Route(f"{PUBLIC_PREFIX}/verify", verify, methods=["POST"]),
        Route("/internal/users", internal_users, methods=["GET"]),
    ]
