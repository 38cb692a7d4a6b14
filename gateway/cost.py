"""What an operation may cost, estimated before any of it runs, and the limits on that cost.

The estimate walks the operation's selection with its variables, as GitHub's GraphQL API counts
nodes: a page size (`first`/`last`, or the field's default) multiplies the cost of everything
selected under it. Two numbers come out:

- service calls: every field with a resolver is one call to a service (DataLoaders batch the
  same field across parents into one call), except `Chat.messages`, which fetches one page
  per chat: its calls are multiplied by the number of chats above it;
- nodes: the objects the answer can hold (each page counts its size, each other list a guess).

An operation over the per-request budget of either gets a `QUERY_TOO_COSTLY` error, and an
operation past the caller's per-minute budget of service calls a `RATE_LIMITED` one, before
any resolver runs (gateway/limits.py holds the numbers). A subscription is measured the same
way: its selection is what each event costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
)
from strawberry.schema.base import BaseSchema
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import ExecutionContext
from strawberry.types.field import StrawberryField
from strawberry.types.graphql import OperationType

from gateway.context import Context
from gateway.limits import LimitExceeded
from gateway.types import DEFAULT_MESSAGE_PAGE, MAX_MESSAGE_PAGE

# Fields that call a service once per parent object rather than once per batch.
PER_PARENT_CALLS = frozenset({("Chat", "messages")})
# Page sizes of fields whose default is applied in code, not in the schema.
CODE_DEFAULT_PAGES = {("Chat", "messages"): DEFAULT_MESSAGE_PAGE}
# No page is larger than this (bigger requests are refused by the field itself).
MAX_PAGE = MAX_MESSAGE_PAGE
# Lists without a page argument (a chat's members): a guess of their length.
LIST_GUESS = 20
# Shorter guesses for lists that are small on almost every parent: a message's reactions (a few
# emoji) and each reaction's people. Counting 20 x 20 for each message of a page would refuse
# the web app's own history page (50 messages).
LIST_GUESSES = {("Message", "reactions"): 4, ("Reaction", "users"): 5}


@dataclass
class Cost:
    service_calls: int = 0
    nodes: int = 0


class TypeLookup(Protocol):
    def get_type(self, name: str) -> GraphQLNamedType | None: ...


class StrawberryTypes:
    """The GraphQL types of a Strawberry schema by name, through its public converter."""

    def __init__(self, schema: BaseSchema) -> None:
        self._type_map = schema.schema_converter.type_map

    def get_type(self, name: str) -> GraphQLNamedType | None:
        concrete = self._type_map.get(name)
        implementation = None if concrete is None else concrete.implementation
        return implementation if isinstance(implementation, GraphQLNamedType) else None


ROOT_TYPES = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}


def estimate(
    schema: TypeLookup,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> Cost:
    root = schema.get_type(ROOT_TYPES[operation.operation.value])
    walk = _Walk(schema, fragments, variables, Cost())
    if isinstance(root, GraphQLObjectType):
        walk.visit_selections(operation.selection_set, root, 1, set())
    return walk.cost


@dataclass
class _Walk:
    """One operation's walk: what every level reads (the schema, its fragments and variables)
    and the cost it adds up, held once instead of passed down each recursion."""

    schema: TypeLookup
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]
    cost: Cost

    def visit_selections(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        multiplier: int,
        spread: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self.visit_field(selection, parent, multiplier, spread)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition, nested = selection.type_condition, selection.selection_set
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None or fragment.name.value in spread:
                    continue  # validation refuses both; a cycle must not loop here
                condition, nested = fragment.type_condition, fragment.selection_set
                spread = spread | {fragment.name.value}
            else:
                continue
            target = self.schema.get_type(condition.name.value) if condition is not None else parent
            if isinstance(target, GraphQLObjectType | GraphQLInterfaceType):
                self.visit_selections(nested, target, multiplier, spread)

    def visit_field(
        self,
        node: FieldNode,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        multiplier: int,
        spread: set[str],
    ) -> None:
        field = parent.fields.get(node.name.value)
        if field is None:
            return
        key = (parent.name, node.name.value)
        if _has_resolver(field):
            self.cost.service_calls += multiplier if key in PER_PARENT_CALLS else 1
        page = _page_size(field, node, self.variables, key)
        if page is not None:
            multiplier *= page
            self.cost.nodes += multiplier
        elif _is_list(field) and not parent.name.endswith("Connection"):
            # A connection's `edges` are its page, counted above; other lists are guessed.
            multiplier *= LIST_GUESSES.get(key, LIST_GUESS)
            self.cost.nodes += multiplier
        child = get_named_type(field.type)
        if node.selection_set is not None and isinstance(
            child, GraphQLObjectType | GraphQLInterfaceType
        ):
            self.visit_selections(node.selection_set, child, multiplier, spread)
        elif node.selection_set is not None:  # a union: only fragments select anything
            self.visit_selections(node.selection_set, parent, multiplier, spread)


def _has_resolver(field: GraphQLField) -> bool:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return isinstance(definition, StrawberryField) and not definition.is_basic_field


def _is_list(field: GraphQLField) -> bool:
    field_type = field.type
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    return isinstance(field_type, GraphQLList)


def _page_size(
    field: GraphQLField, node: FieldNode, variables: dict[str, Any], key: tuple[str, str]
) -> int | None:
    """The page a paginated field returns at most, or None for a field without pages."""
    if "first" not in field.args and "last" not in field.args:
        return None
    given = [
        size
        for argument in node.arguments or ()
        if argument.name.value in ("first", "last")
        and isinstance(size := _int_value(argument.value, variables), int)
    ]
    if given:
        return max(1, min(max(given), MAX_PAGE))
    for name in ("first", "last"):
        default = field.args[name].default_value if name in field.args else None
        if isinstance(default, int) and not isinstance(default, bool):
            return max(1, min(default, MAX_PAGE))
    return CODE_DEFAULT_PAGES.get(key, MAX_PAGE)


def _int_value(value: ValueNode, variables: dict[str, Any]) -> int | None:
    """An Int argument's literal or variable value. A variable that is absent (its default in
    the operation applies) or not an Int (the execution will refuse it) counts as the largest
    page."""
    if isinstance(value, IntValueNode):
        return int(value.value) if len(value.value) < 12 else MAX_PAGE
    if isinstance(value, VariableNode):
        given = variables.get(value.name.value)
        if isinstance(given, int) and not isinstance(given, bool):
            return given
        return MAX_PAGE
    return None


def too_costly(cost: Cost, max_calls: int, max_nodes: int) -> GraphQLError | None:
    if cost.service_calls <= max_calls and cost.nodes <= max_nodes:
        return None
    return GraphQLError(
        f"This query would need {cost.service_calls} service calls and up to {cost.nodes} "
        f"objects; the limits are {max_calls} calls and {max_nodes} objects per request. "
        "Ask for smaller pages or fewer fields at once.",
        extensions={
            "code": "QUERY_TOO_COSTLY",
            "cost": {"serviceCalls": cost.service_calls, "nodes": cost.nodes},
            "limits": {"serviceCalls": max_calls, "nodes": max_nodes},
        },
    )


def websocket_required() -> GraphQLError:
    return GraphQLError(
        "Subscriptions need a WebSocket: connect to /mychat/graphql with the "
        "graphql-transport-ws (or legacy graphql-ws) protocol",
        extensions={"code": "WEBSOCKET_REQUIRED"},
    )


def check_request_limits(execution_context: ExecutionContext) -> None:
    """Refuses an operation before it runs when it is over the request's or the caller's
    budget (gateway/limits.py), or a subscription sent over HTTP. Called from the gateway's
    one extension (gateway/schema.py) as execution starts."""
    context = execution_context.context
    document = execution_context.graphql_document
    if isinstance(context, Context) and document is not None:
        if context.over_http and execution_context.operation_type is OperationType.SUBSCRIPTION:
            raise websocket_required()
        operation = next(
            (
                definition
                for definition in document.definitions
                if isinstance(definition, OperationDefinitionNode)
                and (
                    execution_context.operation_name is None
                    or (definition.name and definition.name.value)
                    == execution_context.operation_name
                )
            ),
            None,
        )
        if operation is not None:
            _check(execution_context, context, operation, document.definitions)


def _check(
    execution_context: ExecutionContext,
    context: Context,
    operation: OperationDefinitionNode,
    definitions: Any,
) -> None:
    fragments = {
        definition.name.value: definition
        for definition in definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    schema = StrawberryTypes(execution_context.schema)
    variables = execution_context.variables or {}
    cost = estimate(schema, operation, fragments, variables)
    limits = context.resources.limits
    refusal = too_costly(cost, limits.max_service_calls, limits.max_nodes)
    # A refused operation spends the most one may cost: repeating it ends in RATE_LIMITED.
    spent = limits.max_service_calls if refusal else max(1, cost.service_calls)
    try:
        limits.charge(context.caller_key, spent)
    except LimitExceeded as error:
        raise GraphQLError(error.message, extensions=error.extensions) from None
    if refusal is not None:
        limits.refusals["QUERY_TOO_COSTLY"] += 1
        raise refusal
