"""The GraphQL schema with its limits, caches and error masking (built by the app factory)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import suppress
from functools import partial
from typing import Any, Protocol, cast

import strawberry
from graphql import ASTValidationRule, GraphQLError, GraphQLSchema, specified_rules
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import StreamResult
from strawberry.types import ExecutionContext, StreamExecutionResult
from strawberry.types.graphql import OperationType

from gateway.clients import ServiceUnavailable
from gateway.context import Context
from gateway.cost import check_request_limits
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
from gateway.search import SearchQuery
from gateway.shared_events import SchemaProbe, SharedEventExecutor
from gateway.subscription_runner import SubscriptionDocuments, SubscriptionRunner
from gateway.subscriptions import Subscription
from gateway.types import Chat, User, Viewer

MAX_DEPTH = 10
MAX_TOKENS = 2000
MAX_ALIASES = 30
# Parsed documents and validation results kept per process. A document costs ~110 bytes of
# memory per character of query text (a 2,000-token query ~600 KiB), so the caches keep only
# queries up to CACHEABLE_QUERY_CHARS, at most CACHE_SIZE of them: ~45 MB at worst, where 512
# documents of any size reached 300 MB and more (issue 13). The web app sends 30 documents, the
# largest its `chatEvents` subscription (~3.4 KB as Apollo Client sends it): it must be cached,
# or each subscription holds its own parse (~145 KiB) and shares no execution of an event with
# the others (gateway/shared_events.py keys on the parsed operation).
CACHE_SIZE = 64
CACHEABLE_QUERY_CHARS = 6144
MASKED_MESSAGE = "Internal server error"
UNAVAILABLE_MESSAGE = "A service is unavailable right now; try again shortly"

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


Rules = tuple[type[ASTValidationRule], ...]


class ValidationRules:
    """Strawberry's validation rules plus the limit rules, as one tuple for all operations.

    Each operation's ExecutionContext keeps its rules for the operation's life (a
    subscription's: for the socket's), so the sum is made once, not once per operation."""

    __slots__ = ("_base", "_combined", "limits")

    def __init__(self, limits: Rules) -> None:
        self.limits = limits
        self._base: Rules | None = None
        self._combined: Rules = limits

    def with_limits(self, base: Rules) -> Rules:
        if base is not self._base:  # Strawberry's are the schema's: the same tuple each time
            self._base, self._combined = base, base + self.limits
        return self._combined


class GatewayExtension(ParserCache, ValidationCache):
    """Every per-operation concern in one extension: token limit, depth/alias rules, parser and
    validation caches, fresh loaders per WebSocket operation, cost and rate limits, masking of
    unexpected errors.

    Strawberry makes extension instances per operation and, for a subscription, keeps each
    one's `on_operation` and `on_execute` hooks open for the subscription's life: one
    extension instead of seven (MaxTokensLimiter, ParserCache, AddValidationRules,
    ValidationCache, a loaders extension, MaskErrors, the cost limits) holds two open hooks
    instead of six, and runs one hook per stage.

    Public APIs only: the caches are Strawberry's own `ParserCache` and `ValidationCache`,
    whose `on_parse` and `on_validate` hooks this class inherits (with their process-wide LRU
    caches, shared by every instance of the same size). Masking is MaskErrors' behaviour on
    the public `on_operation` and `on_stream_result` hooks: MaskErrors itself runs a
    runtime-checkable Protocol test, slow in Python 3.11, for every result (so every event of
    every subscription), and its overridable parts are private methods.
    """

    def __init__(self, rules: ValidationRules) -> None:
        # ParserCache's __init__ runs the next one in the MRO (ValidationCache's) with its default
        # size, so ValidationCache's runs again, after it, with ours.
        ParserCache.__init__(self, maxsize=CACHE_SIZE)
        ValidationCache.__init__(self, maxsize=CACHE_SIZE)
        self.rules = rules
        self.streamed = False

    def on_operation(self) -> Iterator[None]:
        execution_context = self.execution_context
        # What MaxTokensLimiter and AddValidationRules did.
        execution_context.parse_options["max_tokens"] = MAX_TOKENS
        execution_context.validation_rules = self.rules.with_limits(
            execution_context.validation_rules
        )
        # A WebSocket context lives as long as the connection: each operation gets new loaders.
        context = execution_context.context
        if isinstance(context, Context):
            execution_context.context = context.for_operation()
        yield
        # A streamed operation's results were masked one by one as they went out.
        if not self.streamed:
            result = execution_context.result
            mask_errors(getattr(result, "initial_result", result))

    def on_execute(self) -> Iterator[None]:
        """The parsed document for resolvers that look ahead at their selection; the
        operation's cost and rate limits (gateway/cost.py) before it runs."""
        execution_context = self.execution_context
        context = execution_context.context
        if isinstance(context, Context):
            context.document = execution_context.graphql_document
        check_request_limits(execution_context)
        yield

    def on_parse(self) -> Iterator[None]:
        """ParserCache's parse (its process-wide cache) for queries of a cacheable size; larger
        ones Strawberry parses anew. A query that does not parse is left to Strawberry too:
        raised here, outside its parse step, the syntax error escaped its pre-execution
        errors (a WebSocket operation ended in a logged exception and a bare `complete`)."""
        execution_context = self.execution_context
        if len(execution_context.query or "") <= CACHEABLE_QUERY_CHARS:
            with suppress(GraphQLError):
                execution_context.graphql_document = self.cached_parse_document(
                    execution_context.query, **execution_context.parse_options
                )
        yield

    def on_validate(self) -> Iterator[None]:
        """ValidationCache's for cached documents only: an uncached one would sit in the
        validation cache instead (Strawberry validates it without caching)."""
        if len(self.execution_context.query or "") <= CACHEABLE_QUERY_CHARS:
            yield from super().on_validate()
        else:
            yield

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        """Mask each result of a subscription (or other stream) before it reaches the client."""
        self.streamed = True
        mask_errors(result)
        for part in getattr(result, "incremental", None) or ():
            mask_errors(part)
        for part in getattr(result, "completed", None) or ():
            mask_errors(part)
        yield


def mask_errors(result: object) -> None:
    """Replace the result's unexpected errors by ones without details (see `is_unexpected`)."""
    errors = getattr(result, "errors", None)
    if errors:
        cast("_HasErrors", result).errors = masked(errors)


def masked(errors: list[GraphQLError]) -> list[GraphQLError]:
    return [anonymise(error) if is_unexpected(error) else error for error in errors]


def anonymise(error: GraphQLError) -> GraphQLError:
    """No details either way; an unreachable service says so, so clients know to retry."""
    unavailable = isinstance(error.original_error, ServiceUnavailable)
    return GraphQLError(
        UNAVAILABLE_MESSAGE if unavailable else MASKED_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "SERVICE_UNAVAILABLE"} if unavailable else None,
    )


def log_unexpected(errors: list[GraphQLError], context: object) -> None:
    """Log unexpected errors with the request id (before they are masked)."""
    request_id = context.request_id if isinstance(context, Context) else "-"
    for error in errors:
        if is_unexpected(error):
            error_log.error(
                "unexpected error in %s (request %s)",
                ".".join(str(part) for part in error.path or ()) or "operation",
                request_id,
                exc_info=error.original_error,
            )


def reported(errors: list[GraphQLError], context: Context | None) -> list[GraphQLError]:
    """A subscription result's errors as the client may see them, the unexpected ones logged
    (gateway/subscription_runner.py: what process_errors and GatewayExtension do elsewhere)."""
    log_unexpected(errors, context)
    return masked(errors)


class GatewaySchema(strawberry.Schema):
    """Strawberry's schema, with its errors logged and subscriptions run by the gateway's
    SubscriptionRunner (gateway/subscription_runner.py)."""

    def __init__(self, rules: ValidationRules, **kwargs: Any) -> None:
        # A factory: Strawberry makes a fresh extension instance per operation.
        super().__init__(
            **kwargs,
            execution_context_class=SharedEventExecutor,
            extensions=[partial(GatewayExtension, rules)],
        )
        graphql_schema = self.graphql_schema()
        documents = SubscriptionDocuments(
            graphql_schema,
            rules.with_limits(tuple(specified_rules)),
            size=CACHE_SIZE,
            max_chars=CACHEABLE_QUERY_CHARS,
            max_tokens=MAX_TOKENS,
        )
        self.subscriptions = SubscriptionRunner(self, graphql_schema, documents, reported)

    def graphql_schema(self) -> GraphQLSchema:
        """The GraphQLSchema Strawberry built, which it offers no public accessor for: a query
        run with a SchemaProbe as its context makes graphql-core hand it to our executor."""
        probe = SchemaProbe()
        self.execute_sync("query SchemaProbe { __typename }", context_value=probe)
        if probe.graphql_schema is None:
            raise RuntimeError("the schema probe did not reach the executor")
        return probe.graphql_schema

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        """A subscription's results from the SubscriptionRunner; anything else Strawberry's."""
        if operation_extensions is None and (
            allowed_operation_types is None or OperationType.SUBSCRIPTION in allowed_operation_types
        ):
            results = self.subscriptions.results(
                query, variable_values, context_value, root_value, operation_name
            )
            if results is not None:
                return results
        return await super().stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_unexpected(errors, execution_context.context if execution_context else None)


@strawberry.type(name="Query")
class RootQuery(Query, SearchQuery):
    """Every query field: the chats and people (gateway.queries), accounts, message search."""


def build_schema() -> strawberry.Schema:
    # The limit rules are made once per schema: the validation cache keys on the rule classes,
    # and QueryDepthLimiter/MaxAliasesLimiter would make new classes per operation (no hits).
    rules = ValidationRules((max_depth_rule(MAX_DEPTH, None), max_aliases_rule(MAX_ALIASES)))
    return GatewaySchema(
        rules,
        query=RootQuery,
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
    )
