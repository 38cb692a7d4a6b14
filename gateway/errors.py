"""Expected failures as data (typed GraphQL errors) and the few errors raised to clients."""

from __future__ import annotations

import strawberry

from gateway.clients import ServiceError


class ClientFacingError(Exception):
    """Raised by resolvers for failures the client should read; never masked."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.extensions: dict[str, object] = {"code": code}


def unauthenticated_error() -> ClientFacingError:
    return ClientFacingError("Sign in first (missing, invalid or expired token)", "UNAUTHENTICATED")


@strawberry.interface(description="Every expected failure has a human message and a stable code.")
class Error:
    message: str
    code: str


@strawberry.type
class ValidationError(Error):
    field: str | None = None


@strawberry.type
class NotFound(Error):
    pass


@strawberry.type
class NotAMember(Error):
    pass


@strawberry.type
class AlreadyAMember(Error):
    pass


@strawberry.type(description="Only the chat's owner may do this (rename, remove, hand on).")
class NotOwner(Error):
    pass


@strawberry.type(
    description="Not possible for this chat: a direct chat keeps its two people and its name."
)
class NotAllowed(Error):
    pass


@strawberry.type(description="Only the author may change this message (edit or delete).")
class NotTheAuthor(Error):
    pass


@strawberry.type(description="The message was deleted: it can no longer be edited or deleted.")
class AlreadyDeleted(Error):
    pass


@strawberry.type
class Conflict(Error):
    field: str | None = None


@strawberry.type
class Unauthenticated(Error):
    pass


@strawberry.type
class RateLimited(Error):
    retry_after: float


ErrorType = (
    ValidationError
    | NotFound
    | NotAMember
    | AlreadyAMember
    | NotOwner
    | NotAllowed
    | Conflict
    | Unauthenticated
    | RateLimited
    | NotTheAuthor
    | AlreadyDeleted
)


def unauthenticated() -> Unauthenticated:
    return Unauthenticated(message="Sign in first", code="unauthenticated")


def not_found(what: str) -> NotFound:
    return NotFound(message=f"{what} not found", code="not_found")


def from_service_error(error: ServiceError) -> ErrorType:
    """The typed GraphQL error for a service's {code, error, field} answer."""
    code, message = error.code, error.message
    if code == "rate_limited" or error.status == 429:
        return RateLimited(message=message, code=code, retry_after=error.retry_after or 1.0)
    if code == "not_owner":
        return NotOwner(message=message, code=code)
    if code == "direct_chat":
        return NotAllowed(message=message, code=code)
    if code == "not_the_author":
        return NotTheAuthor(message=message, code=code)
    if code == "already_deleted":
        return AlreadyDeleted(message=message, code=code)
    if code == "not_found" or error.status == 404:
        return NotFound(message=message, code=code)
    if code == "not_a_member" or error.status == 403:
        return NotAMember(message=message, code=code)
    if code == "already_a_member":
        return AlreadyAMember(message=message, code=code)
    if code in ("unauthenticated", "invalid_credentials") or error.status == 401:
        return Unauthenticated(message=message, code=code)
    if error.status == 409 or code == "conflict":
        return Conflict(message=message, code=code, field=error_field(error))
    return ValidationError(message=message, code=code, field=error_field(error))


def result_error(error: ServiceError, allowed: tuple[type[Error], ...]) -> ErrorType:
    """Map a service error onto one of the types a mutation's union allows.

    A chat the caller is not in is "not found" where the union has no NotAMember (it does not
    reveal the chat exists); anything else that fits nowhere is unexpected and raised.
    """
    mapped = from_service_error(error)
    if isinstance(mapped, allowed):
        return mapped
    if isinstance(mapped, NotAMember) and NotFound in allowed:
        return NotFound(message=mapped.message, code=mapped.code)
    if isinstance(mapped, Conflict | NotFound) and ValidationError in allowed:
        return ValidationError(message=mapped.message, code=mapped.code, field=error_field(error))
    raise error


def error_field(error: ServiceError) -> str | None:
    """The GraphQL argument name for a service's snake_case input name."""
    if error.field is None:
        return None
    head, *rest = error.field.split("_")
    return head + "".join(part.title() for part in rest)
