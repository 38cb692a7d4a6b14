"""Subscriptions run on graphql-core's documented subscription pipeline, not Strawberry's.

Strawberry's `Schema.stream` keeps, for a subscription's whole life, its per-operation
machinery: an ExecutionContext, the extension instance, the open `on_operation` and
`on_execute` hooks (each a context object with an exit stack and a suspended generator), its
`_stream` generator and graphql-core's response stream around the resolver's: ~4 KiB per idle
subscription (bench/PROFILE.md, 2026-12-05, issue 12), and graphql-core's executor another ~3.5
KiB (gateway/shared_events.py `SubscriptionEvents`). None of it is used between events: the
extension's work (limits, caches, loaders, masking) is done when the subscription starts, and
each event is executed on its own.

`SubscriptionRunner` does the same work without keeping it: the document is parsed and
validated once per text (Strawberry's `validate_document`, with the gateway's limit rules),
the cost and rate limits are checked as the extension's `on_execute` would, and the
subscription is composed as graphql-core's `subscribe` documents for a custom pipeline
(`Executor.build`, `create_source_event_stream`, one per-event executor per event), each
result logged and masked like every other operation's. The protocol handlers are Strawberry's:
they iterate these results as they would `Schema.stream`'s.

Anything else (queries and mutations over a socket, a document that does not parse or
validate, one too long to keep) takes Strawberry's path, which gives the same errors it always
gave.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, cast

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    get_operation_ast,
    parse,
)
from graphql import (
    ExecutionResult as CoreExecutionResult,
)
from graphql.execution import create_source_event_stream
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType as StrawberryOperationType

from gateway.context import Context
from gateway.cost import check_request_limits
from gateway.shared_events import SharedEventExecutor

if TYPE_CHECKING:
    import strawberry

    from gateway.schema import Rules

SubscriptionResults = AsyncGenerator[ExecutionResult | PreExecutionError, None]
# What a result's errors go through before the client sees them: logged, then masked.
ErrorHandler = Callable[[list[GraphQLError], Context | None], list[GraphQLError]]


class SubscriptionDocuments:
    """Documents of subscriptions, parsed and validated once per query text (None: not one
    this runner takes). Bounded like the gateway's parser cache: an evicted text is only parsed
    again."""

    def __init__(
        self, schema: GraphQLSchema, rules: Rules, *, size: int, max_chars: int, max_tokens: int
    ) -> None:
        self._schema = schema
        self._rules = rules
        self._size = size
        self._max_chars = max_chars
        self._max_tokens = max_tokens
        self._known: OrderedDict[str, DocumentNode | None] = OrderedDict()

    def subscription(self, query: str | None, operation_name: str | None) -> DocumentNode | None:
        """The valid document whose selected operation is a subscription, or None."""
        if query is None or len(query) > self._max_chars:
            return None
        if query in self._known:
            self._known.move_to_end(query)
            document = self._known[query]
        else:
            document = self._known[query] = self._prepared(query)
            if len(self._known) > self._size:
                self._known.popitem(last=False)
        if document is None:
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
            return None
        return document

    def _prepared(self, query: str) -> DocumentNode | None:
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError:
            return None
        if validate_document(self._schema, document, self._rules):
            return None
        return document


class SubscriptionRunner:
    """Runs subscriptions (see the module docstring) for one schema."""

    def __init__(
        self,
        schema: strawberry.Schema,
        graphql_schema: GraphQLSchema,
        documents: SubscriptionDocuments,
        handle_errors: ErrorHandler,
    ) -> None:
        self.schema = schema
        self.graphql_schema = graphql_schema
        self.documents = documents
        self.handle_errors = handle_errors

    def results(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None,
        context_value: Any,
        root_value: Any,
        operation_name: str | None,
    ) -> SubscriptionResults | None:
        """The subscription's results, or None when it is not one this runner takes."""
        document = self.documents.subscription(query, operation_name)
        if document is None:
            return None
        if isinstance(context_value, Context):
            # As the gateway's extension does: each operation of a socket gets new loaders,
            # and resolvers that look ahead at their selection read the document here.
            context_value = context_value.for_operation()
            context_value.document = document
        return self._run(
            query, document, variable_values, context_value, root_value, operation_name
        )

    async def _run(
        self,
        query: str | None,
        document: DocumentNode,
        variable_values: dict[str, Any] | None,
        context: Any,
        root_value: Any,
        operation_name: str | None,
    ) -> SubscriptionResults:
        try:
            check_request_limits(
                self._execution_context(query, document, variable_values, context, operation_name)
            )
        except Exception as error:  # as an on_execute hook's error: a result, then the end
            yield self._result(CoreExecutionResult(None, [_coerced(error)]), context)
            return
        built = SharedEventExecutor.build(
            self.graphql_schema, document, root_value, context, variable_values, operation_name
        )
        if isinstance(built, list):  # the variables do not fit the operation
            yield self._pre_execution_error(built, context)
            return
        source = create_source_event_stream(built)
        if isawaitable(source):
            source = await source
        if isinstance(source, CoreExecutionResult):  # the resolver failed before streaming
            yield self._pre_execution_error(source.errors or [], context)
            return
        # The executor's per-event recipe, not the executor (see SubscriptionEvents).
        executions = cast("SharedEventExecutor", built).events
        assert executions is not None  # a subscription's executor has them
        payloads: AsyncIterator[Any] = aiter(source)
        del built, source
        try:
            try:
                async for payload in payloads:
                    result = executions.build_per_event_executor(payload).execute_operation(False)
                    if isawaitable(result):
                        result = await result
                    yield self._result(cast("CoreExecutionResult", result), context)
                    del payload, result  # an idle subscription keeps no event
            finally:  # what contextlib.aclosing does, without an object held for its life
                aclose = getattr(payloads, "aclose", None)
                if aclose is not None:
                    await aclose()
        except Exception as error:  # graphql-core leaves a failing stream to its caller
            yield self._result(CoreExecutionResult(None, [_coerced(error)]), context)

    def _execution_context(
        self,
        query: str | None,
        document: DocumentNode,
        variable_values: dict[str, Any] | None,
        context: Any,
        operation_name: str | None,
    ) -> ExecutionContext:
        """What gateway/cost.py reads of an operation, as Strawberry would describe it (made
        for the check only, not kept)."""
        execution_context = ExecutionContext(
            query=query,
            schema=self.schema,
            allowed_operations=(StrawberryOperationType.SUBSCRIPTION,),
            context=context,
            variables=variable_values,
            provided_operation_name=operation_name,
        )
        execution_context.graphql_document = document
        return execution_context

    def _result(self, result: CoreExecutionResult, context: Any) -> ExecutionResult:
        return ExecutionResult(data=result.data, errors=self._reported(result.errors, context))

    def _pre_execution_error(self, errors: list[GraphQLError], context: Any) -> PreExecutionError:
        return PreExecutionError(data=None, errors=self._reported(errors, context))

    def _reported(
        self, errors: list[GraphQLError] | None, context: Any
    ) -> list[GraphQLError] | None:
        if not errors:
            return errors
        return self.handle_errors(errors, context if isinstance(context, Context) else None)


def _coerced(error: Exception) -> GraphQLError:
    if isinstance(error, GraphQLError):
        return error
    return GraphQLError(str(error), original_error=error)
