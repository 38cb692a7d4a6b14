"""Tokens made by hand, signed with the right secret but carrying claims no issuer of ours
writes: what a hostile client would try."""

from __future__ import annotations

import time

import jwt


def forged_token(secret: str, **claims: object) -> str:
    """User 1's usual claims, valid for an hour, with `claims` written over them (HS256)."""
    now = int(time.time())
    payload: dict[str, object] = {
        "sub": "1",
        "user_id": 1,
        "login": "a",
        "nickname": "A",
        "iat": now,
        "exp": now + 3600,
    }
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm="HS256")
