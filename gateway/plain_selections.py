"""What a subscription's selection reads: whether its result can be shared between subscribers.

gateway/shared_events.py shares an event's execution between the subscribers of one document
when the selection reads only plain attributes of the event's object (`only_plain_fields`), and
shares the fields collected for it when no directive makes them depend on the variables
(`conditional`). Both walk the parsed document once per document (the callers remember).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


def conditional(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    visited: set[str],
) -> bool:
    """Whether a selection (fragments it spreads included) has a directive on a field or a
    fragment: `@skip`/`@include` make what is collected depend on the variables."""
    for selection in selection_set.selections if selection_set is not None else ():
        if selection.directives:
            return True
        if isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if name in visited or fragment is None:
                continue
            visited.add(name)
            nested = fragment.selection_set
            if fragment.directives or conditional(nested, fragments, visited):
                return True
        elif isinstance(selection, FieldNode | InlineFragmentNode) and conditional(
            selection.selection_set, fragments, visited
        ):
            return True
    return False


def runtime_type(schema: GraphQLSchema, payload: object) -> GraphQLObjectType | None:
    definition = getattr(type(payload), "__strawberry_definition__", None)
    name = getattr(definition, "name", None)
    found = schema.get_type(name) if isinstance(name, str) else None
    return found if isinstance(found, GraphQLObjectType) else None


def only_plain_fields(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    operation: OperationDefinitionNode,
    payload_type: GraphQLObjectType,
    resolvers: frozenset[tuple[str, str]],
) -> bool:
    """Whether the subscription field's selection reads only plain attributes of the payload,
    and `resolvers` (type name, field name): those whose results are the same for everyone.

    The root field itself may take arguments and variables: they choose the event stream, and
    the per-event resolver returns the payload unchanged.
    """
    roots = operation.selection_set.selections
    if len(roots) != 1 or not isinstance(roots[0], FieldNode) or roots[0].directives:
        return False
    selection = roots[0].selection_set
    return selection is not None and _plain_selection(
        _Selection(schema, fragments, resolvers), selection, payload_type
    )


@dataclass(frozen=True, slots=True)
class _Selection:
    """What a selection is checked against: the schema, the document's fragments, and the
    resolvers allowed besides plain fields."""

    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    resolvers: frozenset[tuple[str, str]]


def _plain_selection(
    checked: _Selection, selection_set: SelectionSetNode, parent: GraphQLObjectType
) -> bool:
    for selection in selection_set.selections:
        if selection.directives:
            return False
        if isinstance(selection, FieldNode):
            if not _plain_field(checked, selection, parent):
                return False
            continue
        if isinstance(selection, InlineFragmentNode):
            condition, nested = selection.type_condition, selection.selection_set
        elif isinstance(selection, FragmentSpreadNode):
            fragment = checked.fragments.get(selection.name.value)
            if fragment is None:
                return False
            condition, nested = fragment.type_condition, fragment.selection_set
        else:
            return False
        if not _applies(checked.schema, condition, parent):
            continue
        if not _plain_selection(checked, nested, parent):
            return False
    return True


def _plain_field(checked: _Selection, node: FieldNode, parent: GraphQLObjectType) -> bool:
    if node.arguments:
        return False
    if node.name.value == "__typename":
        return True
    field: GraphQLField | None = parent.fields.get(node.name.value)
    if field is None:
        return False
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    basic = isinstance(definition, StrawberryField) and definition.is_basic_field
    if not basic and (parent.name, node.name.value) not in checked.resolvers:
        return False
    if node.selection_set is None:
        return True
    child = get_named_type(field.type)
    return isinstance(child, GraphQLObjectType) and _plain_selection(
        checked, node.selection_set, child
    )


def _applies(
    schema: GraphQLSchema, condition: NamedTypeNode | None, runtime: GraphQLObjectType
) -> bool:
    if condition is None:
        return True
    named = schema.get_type(condition.name.value)
    if named is runtime:
        return True
    return is_abstract_type(named) and schema.is_sub_type(named, runtime)
