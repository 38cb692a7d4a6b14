"""Execute a live event's selection once per process, not once per subscriber.

A chat event reaches every subscriber of the process at once. When a subscription's selection
reads only plain attributes of the event's object (no resolver, no arguments, no directives,
so nothing that depends on the viewer or on variables), its result is the same for every
subscriber holding the same document: the first one executes it and the others reuse that
result. Selections with resolvers (say `chat { unreadCount }`) still run per subscriber, with
the subscriber's own context, but once per user: a user's subscriptions with the same document
and variables read the same data for an event, so the first one's execution (service calls
included) serves the others (`per_user_key`). The cost of an event for one user thus does not
grow with the number of identical subscriptions they hold (gateway/limits.py bounds the rest).

Events that every viewer sees alike but for their own chat (`ViewerEvent`: a message added,
edited, deleted or reacted to) go further: one execution and one JSON encoding per event,
document and shared part of the chat, with each viewer's unread count, role and reactedByMe
filled into the encoded bytes (gateway/viewer_slots.py). `stats` counts executions and
renderings (`mychat_event_executions`, `mychat_event_renders` in the metrics).

`SharedEventExecutor` is also where graphql-core's per-event executors get their own field
memo: as copies they would share the subscription's, and every event would add entries to it
that are never read again (memory growing with each event on long-lived subscriptions).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from functools import partial
from inspect import isawaitable
from typing import Any, Generic, Protocol, TypeVar, cast

from graphql import (
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
)
from graphql.execution import Executor, MiddlewareManager
from graphql.execution.collect_fields import CollectedFields
from graphql.execution.values import VariableValues
from graphql.pyutils import AwaitableOrValue
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.acyclic_executor import AcyclicHelpers
from gateway.collected_once import CollectedOnce
from gateway.collected_once import Key as CollectedKey
from gateway.plain_fields import PlainFields
from gateway.plain_selections import conditional, only_plain_fields, runtime_type
from gateway.viewer_slots import (
    TEMPLATE_FIELDS,
    SlotRecorder,
    Template,
    ViewerView,
)

Value = TypeVar("Value")
# A result ready now, or one being computed by the first subscriber of the same user.
Shared = ExecutionResult | asyncio.Future[ExecutionResult]
# A template ready now (None: this event and document cannot have one), or being made.
SharedTemplate = Template | None | asyncio.Future[Template | None]
Built = TypeVar("Built")
# Events a process keeps results for: all its subscribers handle an event within moments, so a
# short window suffices; an evicted event only costs a re-execution.
RECENT_EVENTS = 256
# Documents whose shareability is remembered (the parser cache keeps documents alive, too).
KNOWN_SELECTIONS = 128


class RecentByIdentity(Generic[Value]):
    """A bounded memo keyed by the identity of an object (events are unhashable dicts).

    Each entry keeps its key object alive, so an `id()` cannot be reused while it is cached.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[int, tuple[object, Value]] = OrderedDict()

    def get(self, key: object) -> Value | None:
        entry = self._entries.get(id(key))
        if entry is None or entry[0] is not key:
            return None
        return entry[1]

    def put(self, key: object, value: Value) -> Value:
        self._entries[id(key)] = (key, value)
        self._entries.move_to_end(id(key))
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return value

    def get_or_build(self, key: object, build: Callable[[], Value]) -> Value:
        found = self.get(key)
        return found if found is not None else self.put(key, build())


class ViewerChat(Protocol):
    def shared_part(self) -> Hashable | None: ...


class ViewerEvent:
    """A mixin for event types whose `message` is one object for all viewers of the event
    (see `SharedEvents.object_for`) and whose `chat` is each viewer's own: executed once per
    event, document and shared part of the chat, per-viewer leaves filled in per viewer
    (gateway/viewer_slots.py)."""

    message: object
    chat: ViewerChat


@dataclass
class EventStats:
    executions: int = 0  # per-event executions run (once per template, or per subscriber)
    templates: int = 0  # of which made templates for many viewers
    renders: int = 0  # results made from a template (one per viewer and event)
    direct: int = 0  # of which written to the socket directly (gateway/direct_delivery.py)


class Selected(Protocol):
    """What SharedEvents reads of a subscription: its document, schema, context and variables
    (a SubscriptionEvents, or an executor of the subscription)."""

    schema: GraphQLSchema
    fragment_definitions: dict[str, FragmentDefinitionNode]
    operation: OperationDefinitionNode
    context_value: Any
    variable_values: VariableValues


class SharedEvents:
    """Per-process memo of what every subscriber derives alike from one broker event."""

    def __init__(self) -> None:
        self.stats = EventStats()
        # Shared message -> {(id(operation), chat's shared part): (operation, template)}.
        self._templates: RecentByIdentity[
            dict[tuple[int, Hashable], tuple[object, SharedTemplate]]
        ] = RecentByIdentity(RECENT_EVENTS)
        # (what, event payload) -> the GraphQL object built from that payload (a dict all local
        # subscribers share), so every subscriber's execution sees the same root value.
        self._objects: dict[str, RecentByIdentity[object]] = {}
        # Root value -> {(id(operation), per-user key or None): (operation, result)}.
        self._results: RecentByIdentity[dict[tuple[int, str | None], tuple[object, Shared]]] = (
            RecentByIdentity(RECENT_EVENTS)
        )
        # (id(operation), runtime type name, fields allowed besides) -> (operation, verdict).
        self._shareable: OrderedDict[
            tuple[int, str, frozenset[tuple[str, str]]], tuple[object, bool]
        ] = OrderedDict()
        # id(operation) -> (operation, the collected-fields memo of all its subscriptions).
        self._collected: OrderedDict[int, tuple[object, dict[CollectedKey, CollectedFields]]] = (
            OrderedDict()
        )

    def object_for(self, what: str, payload: object, build: Callable[[], Built]) -> Built:
        """The object built from `payload` for `what`, built once per event and process."""
        memo = self._objects.get(what)
        if memo is None:
            memo = self._objects[what] = RecentByIdentity(RECENT_EVENTS)
        # One builder per `what`, so the memo holds only what `build` returns.
        return cast(Built, memo.get_or_build(payload, build))

    def shareable(
        self,
        executor: Selected,
        payload: object,
        besides: frozenset[tuple[str, str]] = frozenset(),
    ) -> bool:
        """Whether the selection reads only plain fields of the payload, and the fields
        `besides` (type name, field name; TEMPLATE_FIELDS for a template)."""
        payload_type = runtime_type(executor.schema, payload)
        if payload_type is None:
            return False
        operation = executor.operation
        key = (id(operation), payload_type.name, besides)
        known = self._shareable.get(key)
        if known is not None and known[0] is operation:
            return known[1]
        verdict = only_plain_fields(
            executor.schema,
            executor.fragment_definitions,
            operation,
            payload_type,
            besides,
        )
        self._shareable[key] = (operation, verdict)
        while len(self._shareable) > KNOWN_SELECTIONS:
            self._shareable.popitem(last=False)
        return verdict

    def collected_memo(self, executor: Selected) -> dict[CollectedKey, CollectedFields]:
        """The memo of fields collected for a subscription's document (collected_once.py):
        one for every subscription holding the same parsed operation when no `@skip` or
        `@include` makes the collection depend on variables (the web app's documents), else
        the subscription's own. Each is ~2 KB for the web app's chatEvents."""
        operation = executor.operation
        known = self._collected.get(id(operation))
        if known is not None and known[0] is operation:
            return known[1]
        memo: dict[CollectedKey, CollectedFields] = {}
        if conditional(operation.selection_set, executor.fragment_definitions, set()):
            return memo
        self._collected[id(operation)] = (operation, memo)
        while len(self._collected) > KNOWN_SELECTIONS:
            self._collected.popitem(last=False)
        return memo

    def result_for(
        self, executor: Selected, payload: object, user: str | None = None
    ) -> Shared | None:
        """The result another subscriber of this process (of this user, if `user` is given)
        got for this event and document."""
        results = self._results.get(payload)
        if results is None:
            return None
        hit = results.get((id(executor.operation), user))
        if hit is None or hit[0] is not executor.operation:
            return None
        return hit[1]

    def remember(
        self, executor: Selected, payload: object, result: Shared, user: str | None = None
    ) -> None:
        results = self._results.get(payload)
        if results is None:
            results = self._results.put(payload, {})
        results[(id(executor.operation), user)] = (executor.operation, result)

    def template_for(
        self, executor: Selected, event: ViewerEvent, chat: Hashable
    ) -> SharedTemplate | bool:
        """The template another viewer made for this event, document and shared part of the
        chat; False if none was made yet."""
        templates = self._templates.get(event.message)
        if templates is None:
            return False
        hit = templates.get((id(executor.operation), chat))
        if hit is None or hit[0] is not executor.operation:
            return False
        return hit[1]

    def remember_template(
        self, executor: Selected, event: ViewerEvent, chat: Hashable, made: SharedTemplate
    ) -> None:
        templates = self._templates.get(event.message)
        if templates is None:
            templates = self._templates.put(event.message, {})
        templates[(id(executor.operation), chat)] = (executor.operation, made)


def per_user_key(executor: Selected) -> str | None:
    """What makes one subscriber's execution of an event valid for another: the same user
    (their context: membership, unread counts) and the same variables; None without a user."""
    viewer = getattr(executor.context_value, "viewer", None)
    user_id = getattr(viewer, "user_id", None)
    if not isinstance(user_id, int):
        return None
    return f"{user_id}:{executor.variable_values!r}"


async def _awaited(result: asyncio.Future[ExecutionResult]) -> ExecutionResult:
    # Shielded: a subscriber that goes away must not cancel the execution others wait for.
    return await asyncio.shield(result)


class SchemaProbe:
    """The context of a query run only to learn the GraphQLSchema Strawberry built, which it
    has no public accessor for (GatewaySchema.graphql_schema): graphql-core builds the
    query's executor with it, and `SharedEventExecutor.build` notes it here."""

    __slots__ = ("graphql_schema",)

    def __init__(self) -> None:
        self.graphql_schema: GraphQLSchema | None = None


class SharedEventExecutor(
    PlainFields, CollectedOnce, AcyclicHelpers, StrawberryGraphQLCoreExecutionContext
):
    """Strawberry's executor, with per-event executors that share results where they can (and
    objects of plain fields built directly: gateway/plain_fields.py), each freed as soon as it
    is done (gateway/acyclic_executor.py)."""

    shared: SharedEvents | None = None  # set on per-event executors whose result is shareable
    user: str | None = None  # set when it is shareable with the same user's subscriptions only
    # A subscription's executor: what its per-event executors are made from (set by `build`).
    events: SubscriptionEvents | None = None

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> list[GraphQLError] | Executor[Any]:
        """graphql-core's `Executor.build` (public: subscribe() builds the operation's
        executor with it). A subscription's executor gets its SubscriptionEvents, which its
        context keeps too (`subscription_events`, a per-operation context) for the direct
        delivery of its events (gateway/direct_delivery.py)."""
        built = super().build(*args, **kwargs)
        if not isinstance(built, SharedEventExecutor):
            return built
        context = built.context_value
        if isinstance(context, SchemaProbe):
            context.graphql_schema = built.schema
        if built.operation.operation is OperationType.SUBSCRIPTION:
            built.events = SubscriptionEvents(built)
            if hasattr(context, "subscription_events"):
                context.subscription_events = built.events
        return built

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        if self.events is None:  # not a subscription's executor: graphql-core's copy
            return super().build_per_event_executor(payload)
        return self.events.build_per_event_executor(payload)

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[Any]:
        result = super().execute_operation(serially)
        if self.shared is None:
            return result
        if isinstance(result, ExecutionResult):
            # Plain fields resolve synchronously; an error is not reused for other users.
            if self.user is not None or not result.errors:
                self.shared.remember(self, self.root_value, result, self.user)
            return result
        if self.user is None or not isawaitable(result):
            return result
        # Resolvers of one user's subscription: the others of that user await this one.
        execution = asyncio.ensure_future(cast("Awaitable[ExecutionResult]", result))
        self.shared.remember(self, self.root_value, execution, self.user)
        return _awaited(execution)


class SubscriptionEvents:
    """What a subscription's per-event executors are made from, and how: the arguments of
    graphql-core's documented Executor constructor, as its subscription executor got them.

    The subscription's executor itself need not live as long as the subscription: its
    execution state (graphql-core's incremental-delivery bookkeeping, error sets, helpers) is
    ~4 KiB that no event reads, where this is one object of references
    (gateway/subscription_runner.py keeps only this). Every argument is the public attribute
    of the same name (Strawberry's subclass adds `operation_extensions`);
    tests/gateway/test_shared_events.py fails if the constructor gains or loses one.
    """

    __slots__ = (
        "abort_signal",
        "collected",
        "context_value",
        "enable_early_execution",
        "field_resolver",
        "fragment_definitions",
        "fragments",
        "hide_suggestions",
        "hooks",
        "is_async_iterable",
        "is_awaitable",
        "middleware_manager",
        "operation",
        "operation_extensions",
        "schema",
        "subscribe_field_resolver",
        "type_resolver",
        "variable_values",
    )

    def __init__(self, executor: SharedEventExecutor) -> None:
        self.schema = executor.schema
        self.fragment_definitions = executor.fragment_definitions
        self.fragments = executor.fragments
        self.context_value = executor.context_value
        self.operation = executor.operation
        self.variable_values = executor.variable_values
        self.field_resolver = executor.field_resolver
        self.type_resolver = executor.type_resolver
        self.subscribe_field_resolver = executor.subscribe_field_resolver
        self.enable_early_execution = executor.enable_early_execution
        self.middleware_manager = executor.middleware_manager
        self.is_awaitable = executor.is_awaitable
        self.is_async_iterable = executor.is_async_iterable
        self.hide_suggestions = executor.hide_suggestions
        self.abort_signal = executor.abort_signal
        self.hooks = executor.hooks
        self.operation_extensions = executor.operation_extensions
        # The fields collected for all the subscription's events (collected_once.py).
        self.collected: dict[CollectedKey, CollectedFields] | None = None

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        shared = getattr(self.context_value, "shared_events", None)
        user = None
        if isinstance(shared, SharedEvents):
            if isinstance(payload, ViewerEvent):
                chat = payload.chat.shared_part()
                if chat is not None and shared.shareable(self, payload, TEMPLATE_FIELDS):
                    return self.rendered(shared, payload, chat)
            if not shared.shareable(self, payload):
                user = per_user_key(self)
                if user is None:
                    shared = None
            if shared is not None:
                ready = shared.result_for(self, payload, user)
                if ready is not None:
                    return _ReadyEvent(ready)
        else:
            shared = None
        executor = self.executor_for(payload)
        executor.shared = shared
        executor.user = user
        return executor

    def rendered(self, shared: SharedEvents, event: ViewerEvent, chat: Hashable) -> Executor[Any]:
        """A per-event executor giving this viewer's result from the event's template (made
        now by this viewer's executor if no other one has made it yet)."""
        viewer = getattr(self.context_value, "viewer", None)
        view = ViewerView(getattr(viewer, "user_id", None), event.chat)
        template = self.shared_template(shared, event, chat)
        return _RenderedEvent(shared, template, view, partial(self.executor_for, event))

    def shared_template(
        self, shared: SharedEvents, event: ViewerEvent, chat: Hashable
    ) -> SharedTemplate:
        """The event's template for this document and shared part of the chat: another
        viewer's, or made now."""
        template = shared.template_for(self, event, chat)
        if isinstance(template, bool):  # none yet
            template = self.make_template(shared, event)
            shared.remember_template(self, event, chat, template)
        return template

    def ready_template(self, event: ViewerEvent) -> Template | None:
        """The event's template for this subscription's document if it is made (or can be
        made) without waiting; None when the event must take the regular path (the
        document or chat cannot have one, or its execution awaits something): what
        gateway/direct_delivery.py writes to a socket directly. A template started here
        and not finished is the one the regular path then awaits (no second execution)."""
        shared = getattr(self.context_value, "shared_events", None)
        if not isinstance(shared, SharedEvents):
            return None
        chat = event.chat.shared_part()
        if chat is None or not shared.shareable(self, event, TEMPLATE_FIELDS):
            return None
        template = self.shared_template(shared, event, chat)
        if isinstance(template, asyncio.Future):
            if not template.done() or template.cancelled() or template.exception() is not None:
                return None
            template = template.result()
        return template

    def count_direct(self) -> None:
        """A result made from a template and written directly (gateway/direct_delivery.py)."""
        shared = getattr(self.context_value, "shared_events", None)
        if isinstance(shared, SharedEvents):
            shared.stats.renders += 1
            shared.stats.direct += 1

    def make_template(self, shared: SharedEvents, event: ViewerEvent) -> SharedTemplate:
        """Execute the event once with a middleware noting the per-viewer leaves."""
        recorder = SlotRecorder(event.chat)
        before = self.middleware_manager.middlewares if self.middleware_manager else ()
        executor = self.executor_for(event, MiddlewareManager(*before, recorder))
        shared.stats.templates += 1

        def made(result: ExecutionResult) -> Template | None:
            # An error, or a Chat leaf not on the event's chat: every viewer executes alone.
            if result.errors or not isinstance(result.data, dict) or recorder.unmapped:
                return None
            return Template(result.data, recorder.slots)

        result = executor.execute_operation()
        if isinstance(result, ExecutionResult):
            return made(result)

        async def finish() -> Template | None:
            return made(await cast("Awaitable[ExecutionResult]", result))

        return asyncio.ensure_future(finish())

    def executor_for(
        self, payload: Any, middleware_manager: MiddlewareManager | None = None
    ) -> SharedEventExecutor:
        """A new executor for one event, through graphql-core's documented constructor.

        graphql-core's own `build_per_event_executor` makes a shallow copy, which shares the
        subscription executor's field memo: keyed by per-event objects, it would grow with
        every event for the subscription's lifetime, and nothing reads those entries again.
        """
        shared = getattr(self.context_value, "shared_events", None)
        if isinstance(shared, SharedEvents):
            shared.stats.executions += 1  # each per-event executor runs once
        if self.collected is None:  # for all the subscription's events (collected_once.py)
            self.collected = shared.collected_memo(self) if isinstance(shared, SharedEvents) else {}
        executor = SharedEventExecutor(
            schema=self.schema,
            fragment_definitions=self.fragment_definitions,
            fragments=self.fragments,
            root_value=payload,
            context_value=self.context_value,
            operation=self.operation,
            variable_values=self.variable_values,
            field_resolver=self.field_resolver,
            type_resolver=self.type_resolver,
            subscribe_field_resolver=self.subscribe_field_resolver,
            enable_early_execution=self.enable_early_execution,
            middleware_manager=middleware_manager or self.middleware_manager,
            is_awaitable=self.is_awaitable,
            is_async_iterable=self.is_async_iterable,
            hide_suggestions=self.hide_suggestions,
            abort_signal=self.abort_signal,
            hooks=self.hooks,
            operation_extensions=self.operation_extensions,
        )
        executor.collected = self.collected
        return executor


class _ReadyEvent(SharedEventExecutor):
    """A per-event executor whose result another subscriber already computed.

    graphql-core only calls `execute_operation` on a per-event executor, so nothing else of
    an executor is set up (that copy is most of what a shared delivery would cost).
    """

    def __init__(self, result: Shared) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[Any]:
        if isinstance(self.result, ExecutionResult):
            return self.result
        return _awaited(self.result)


class _RenderedEvent(SharedEventExecutor):
    """A per-event executor whose result is the event's template with this viewer's values
    (or, when the event cannot have a template, this viewer's own execution)."""

    def __init__(
        self,
        shared: SharedEvents,
        template: SharedTemplate,
        view: ViewerView,
        alone: Callable[[], SharedEventExecutor],
    ) -> None:
        self.shared_events = shared
        self.template = template
        self.view = view
        self.alone = alone

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[Any]:
        template = self.template
        if isinstance(template, asyncio.Future):
            if not template.done() or template.cancelled() or template.exception():
                return self._when_made(template)
            template = template.result()  # made already: no await (most viewers)
        return self._render(template)

    def _render(self, template: Template | None) -> AwaitableOrValue[Any]:
        if template is None:
            return self.alone().execute_operation()
        self.shared_events.stats.renders += 1
        return template.render(self.view)

    async def _when_made(self, template: asyncio.Future[Template | None]) -> ExecutionResult:
        # Shielded: a viewer that goes away must not cancel the execution others wait for.
        rendered = self._render(await asyncio.shield(template))
        if isawaitable(rendered):
            rendered = await rendered
        return cast(ExecutionResult, rendered)
