from __future__ import annotations

import time
import warnings
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from mychat.tokens import VERIFIED_CACHE_SIZE, InvalidToken, TokenCodec, bearer_token
from tests.support.tokens import forged_token

SECRET = "s" * 40


def codec(ttl: timedelta = timedelta(hours=1)) -> TokenCodec:
    return TokenCodec(SECRET, ttl)


def test_round_trip_carries_the_seed_claims() -> None:
    token = codec().issue(user_id=7, login="alice", nickname="Alice")
    claims = codec().verify(token)
    assert (claims.user_id, claims.login, claims.nickname) == (7, "alice", "Alice")
    payload = claims.seed_payload()
    assert payload["user_id"] == 7
    assert payload["sub"] == "7"
    assert payload["exp"] - payload["iat"] == 3600
    assert claims.jti


def test_expired_token_is_refused() -> None:
    token = codec(timedelta(seconds=-1)).issue(user_id=1, login="a", nickname="A")
    with pytest.raises(InvalidToken, match="expired"):
        codec().verify(token)


def test_forged_signature_is_refused() -> None:
    token = TokenCodec("x" * 40, timedelta(hours=1)).issue(user_id=1, login="a", nickname="A")
    with pytest.raises(InvalidToken):
        codec().verify(token)


@pytest.mark.parametrize("algorithm", ["HS512", "none"])
def test_other_algorithms_are_refused(algorithm: str) -> None:
    now = datetime.now(UTC)
    claims = {
        "sub": "1",
        "user_id": 1,
        "login": "a",
        "nickname": "A",
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    key = None if algorithm == "none" else SECRET  # same secret: only the algorithm differs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        token = jwt.encode(claims, key, algorithm=algorithm)
    with pytest.raises(InvalidToken):
        codec().verify(token)


def test_missing_exp_is_refused() -> None:
    token = jwt.encode({"sub": "1", "user_id": 1, "login": "a", "nickname": "A", "iat": 0}, SECRET)
    with pytest.raises(InvalidToken, match="exp"):
        codec().verify(token)


def test_subject_must_match_user_id() -> None:
    now = datetime.now(UTC)
    token = jwt.encode(
        {
            "sub": "2",
            "user_id": 1,
            "login": "a",
            "nickname": "A",
            "iat": now,
            "exp": now + timedelta(hours=1),
        },
        SECRET,
    )
    with pytest.raises(InvalidToken, match="subject"):
        codec().verify(token)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("abc", "abc"),
        ("Bearer ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token_accepts_the_seed_forms(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected


def test_a_token_verified_before_is_still_refused_once_expired() -> None:
    tokens = codec(timedelta(seconds=1))
    token = tokens.issue(user_id=1, login="a", nickname="A")
    claims = tokens.verify(token)
    assert tokens.verify(token) == claims  # remembered
    time.sleep(max(0.0, claims.expires_at.timestamp() - time.time()) + 0.05)
    for _ in range(2):
        with pytest.raises(InvalidToken, match="expired"):
            tokens.verify(token)


def test_remembered_tokens_are_bounded_and_per_secret() -> None:
    tokens = codec()
    issued = [tokens.issue(user_id=n, login=f"u{n}", nickname=f"U{n}") for n in range(3)]
    for token in issued:
        tokens.verify(token)
    with pytest.raises(InvalidToken):  # another secret remembers nothing of these
        TokenCodec("y" * 40, timedelta(hours=1)).verify(issued[0])
    for n in range(VERIFIED_CACHE_SIZE):
        tokens.verify(tokens.issue(user_id=n + 10, login="b", nickname="B"))
    assert [tokens.verify(token).user_id for token in issued] == [0, 1, 2]
    assert len(tokens._verified) <= VERIFIED_CACHE_SIZE


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", "99999999999"),
        ("exp", 1e20),
        ("exp", True),
        ("iat", "1700000000"),
        ("iat", "abc"),
        ("iat", -1e20),
        ("user_id", 2**70),
        ("user_id", "1"),
    ],
)
def test_malformed_claims_are_invalid_tokens_not_crashes(claim: str, value: object) -> None:
    """Signed with the right secret but with claims no issuer writes: refused, never a 500."""
    claims: dict[str, object] = {claim: value}
    if claim == "user_id":
        claims["sub"] = str(value)
    token = forged_token(SECRET, **claims)
    with pytest.raises(InvalidToken):
        codec().verify(token)
