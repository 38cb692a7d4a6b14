"""Checks of user-written text shared by chat names and messages."""

from __future__ import annotations

from mychat.http import ApiError


def check_trimmed_text(value: str, *, field: str, label: str, max_length: int) -> str:
    """The value without surrounding white space, or a 400 naming the field."""
    value = value.strip()
    if not value:
        raise ApiError(400, "validation_error", f"{label} is required", field=field)
    if len(value) > max_length:
        raise ApiError(
            400,
            "validation_error",
            f"{label} must be at most {max_length} characters",
            field=field,
        )
    return value
