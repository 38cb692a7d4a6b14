"""The GraphQL schema with its limits, caches and error masking (built by the app factory)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Protocol, cast

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionContext

from gateway.context import Context
from gateway.errors import (
    AlreadyAMember,
    ClientFacingError,
    Conflict,
    NotAMember,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationError,
)
from gateway.mutations import Mutation
from gateway.queries import Query
from gateway.shared_events import SharedEventExecutor
from gateway.subscriptions import Subscription
from gateway.types import Chat, User, Viewer

MAX_DEPTH = 10
MAX_TOKENS = 2000
MAX_ALIASES = 30
CACHE_SIZE = 512
MASKED_MESSAGE = "Internal server error"

error_log = logging.getLogger("mychat.gateway.error")
# Raised for the client's own mistakes (e.g. a query over legacy graphql-ws, which only streams).
CLIENT_ERRORS = (
    ClientFacingError,
    GraphQLError,
    InvalidOperationTypeError,
    CannotGetOperationTypeError,
)


def is_unexpected(error: GraphQLError) -> bool:
    """Errors from our own code paths that the client should not see the details of.

    Parse and validation errors carry no original error and are the client's to read.
    """
    original = error.original_error
    return original is not None and not isinstance(original, CLIENT_ERRORS)


class _HasErrors(Protocol):
    errors: list[GraphQLError] | None


class MaskUnexpectedErrors(MaskErrors):
    """MaskErrors without its runtime-checkable Protocol test, which is slow in Python 3.11 and
    runs for every result, so for every event of every subscription."""

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            cast("_HasErrors", result).errors = self._process_errors(errors)


class FreshLoadersPerOperation(SchemaExtension):
    """A WebSocket context lives as long as the connection: give each operation new loaders."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context):
            self.execution_context.context = context.for_operation()
        yield


class GatewaySchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log unexpected errors with the request id (before MaskErrors hides them)."""
        context = execution_context.context if execution_context else None
        request_id = context.request_id if isinstance(context, Context) else "-"
        for error in errors:
            if is_unexpected(error):
                error_log.error(
                    "unexpected error in %s (request %s)",
                    ".".join(str(part) for part in error.path or ()) or "operation",
                    request_id,
                    exc_info=error.original_error,
                )


def build_schema() -> strawberry.Schema:
    # The limit rules are made once per schema: ValidationCache keys on the rule classes, and
    # QueryDepthLimiter/MaxAliasesLimiter would make new classes per operation (no cache hits).
    limit_rules: list[type[ASTValidationRule]] = [
        max_depth_rule(MAX_DEPTH, None),
        max_aliases_rule(MAX_ALIASES),
    ]
    return GatewaySchema(
        query=Query,
        execution_context_class=SharedEventExecutor,
        mutation=Mutation,
        subscription=Subscription,
        types=[
            Chat,
            User,
            Viewer,
            ValidationError,
            NotFound,
            NotAMember,
            AlreadyAMember,
            Conflict,
            Unauthenticated,
            RateLimited,
        ],
        extensions=[
            # Factories: Strawberry makes fresh extension instances per operation; the parser
            # and validation caches are shared by maxsize.
            lambda: MaxTokensLimiter(MAX_TOKENS),
            lambda: ParserCache(maxsize=CACHE_SIZE),
            lambda: AddValidationRules(limit_rules),
            lambda: ValidationCache(maxsize=CACHE_SIZE),
            FreshLoadersPerOperation,
            lambda: MaskUnexpectedErrors(
                should_mask_error=is_unexpected, error_message=MASKED_MESSAGE
            ),
        ],
    )
