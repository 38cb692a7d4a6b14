"""What every mutation does around its action: the viewer check and typed service errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry

from gateway.clients import ServiceError
from gateway.context import Context
from gateway.errors import Error, not_found, result_error, unauthenticated
from gateway.ids import InvalidGlobalId

Info = strawberry.Info[Context, None]
T = TypeVar("T")


class ChatGone(Exception):
    """The chat is not (or no longer) visible to the caller."""


async def run_action(
    info: Info,
    allowed: tuple[type[Error], ...],
    action: Callable[[], Awaitable[T]],
    *,
    needs_viewer: bool = True,
) -> Any:
    """The action's payload, or the typed error a service answered with."""
    if needs_viewer and info.context.viewer is None:
        return unauthenticated()
    try:
        return await action()
    except ServiceError as error:
        return result_error(error, allowed)
    except (InvalidGlobalId, ChatGone):
        return not_found("Chat")
