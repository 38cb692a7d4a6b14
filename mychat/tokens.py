"""JWT issue and verification, shared so every service checks tokens itself (no round trip)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from mychat.bounds import MAX_DATABASE_ID
from mychat.revocation import RevokedSessions
from mychat.settings import Settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "iat", "sub", "user_id", "login", "nickname")
# Tokens verified once are remembered (up to this many, then forgotten all at once).
VERIFIED_CACHE_SIZE = 4096
SESSION_ID_MAX = 64
# Timestamps a datetime can hold on every platform (years 1970-9999).
MAX_TIMESTAMP = 253402300799


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or signed with another algorithm."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    login: str
    nickname: str
    issued_at: datetime
    expires_at: datetime
    jti: str
    # The auth_service session this token belongs to ("sid"); "" for a token made without one
    # (tests, tools): such a token cannot be signed out and only expires.
    session_id: str = ""

    def seed_payload(self) -> dict[str, Any]:
        """The payload the seed's /verify answered with, plus our standard claims."""
        return {
            "user_id": self.user_id,
            "login": self.login,
            "nickname": self.nickname,
            "exp": int(self.expires_at.timestamp()),
            "iat": int(self.issued_at.timestamp()),
            "sub": str(self.user_id),
            "jti": self.jti,
            "sid": self.session_id,
        }


class TokenCodec:
    def __init__(self, secret: str, ttl: timedelta, revoked: RevokedSessions | None = None) -> None:
        self._secret = secret
        self._ttl = ttl
        # Signed-out sessions (mychat.revocation): their tokens are refused before they expire.
        self.revoked = revoked if revoked is not None else RevokedSessions()
        # token -> (claims, exp): a client sends the same token with every request, and a
        # signature that verified once verifies again; only the expiry has to be checked anew.
        self._verified: dict[str, tuple[TokenClaims, float]] = {}

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    def issue(
        self,
        *,
        user_id: int,
        login: str,
        nickname: str,
        session_id: str = "",
        issued_at: datetime | None = None,
    ) -> str:
        now = (issued_at or datetime.now(UTC)).replace(microsecond=0)
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "user_id": user_id,
            "login": login,
            "nickname": nickname,
            "iat": now,
            "exp": now + self._ttl,
            "jti": uuid.uuid4().hex,
        }
        if session_id:
            claims["sid"] = session_id
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> TokenClaims:
        """The token's claims; InvalidToken when it is bad, expired or its session ended."""
        known = self._verified.get(token)
        if known is not None:
            claims, expires = known
            if time.time() >= expires:  # as PyJWT decides: expired once exp <= now
                del self._verified[token]
                raise InvalidToken("Signature has expired")
        else:
            claims = self._decode(token)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = (claims, claims.expires_at.timestamp())
        if self.is_revoked(claims):
            raise InvalidToken("Session ended")
        return claims

    def is_revoked(self, claims: TokenClaims) -> bool:
        """Whether the claims' session was signed out (a dict lookup, no round trip)."""
        return bool(claims.session_id) and self.revoked.is_revoked(claims.session_id)

    def _decode(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],  # pinned: "none" and RS/HS confusion are refused
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from error
        user_id = claims["user_id"]
        if (
            not _is_int(user_id)
            or not 0 <= user_id <= MAX_DATABASE_ID
            or str(user_id) != claims["sub"]
        ):
            raise InvalidToken("malformed subject")
        if not isinstance(claims["login"], str) or not isinstance(claims["nickname"], str):
            raise InvalidToken("malformed claims")
        session_id = claims.get("sid", "")
        if not isinstance(session_id, str) or len(session_id) > SESSION_ID_MAX:
            raise InvalidToken("malformed session id")
        return TokenClaims(
            user_id=user_id,
            login=claims["login"],
            nickname=claims["nickname"],
            issued_at=_timestamp(claims, "iat"),
            expires_at=_timestamp(claims, "exp"),
            jti=str(claims.get("jti", "")),
            session_id=session_id,
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _timestamp(claims: dict[str, Any], name: str) -> datetime:
    """A NumericDate claim as PyJWT left it (it lets "123" or 1e20 through) or InvalidToken."""
    value = claims[name]
    if not (_is_int(value) or isinstance(value, float)) or not 0 <= value <= MAX_TIMESTAMP:
        raise InvalidToken(f"malformed {name} claim")
    return datetime.fromtimestamp(value, UTC)


def token_codec(settings: Settings, *, embedded: bool) -> TokenCodec:
    """The codec for these settings (the embedded mode may generate and keep its secret)."""
    return TokenCodec(
        settings.resolved_jwt_secret(embedded=embedded), timedelta(seconds=settings.jwt_ttl_seconds)
    )


def bearer_token(authorization: str | None) -> str | None:
    """The token from an Authorization header; the seed also accepted a bare token."""
    if not authorization:
        return None
    value = authorization.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        value = rest.strip()
    return value or None
