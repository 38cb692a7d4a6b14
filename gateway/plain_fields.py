"""Plain fields without graphql-core's per-field machinery.

Most of a history page or a chat list is values read straight off our objects (`text`,
`createdAt`, `sender { id nickname }`): Strawberry's "basic" fields, with no resolver and no
arguments. graphql-core still runs each through its full path (a Path, resolve info, the
middleware lookup, the resolver wrapper, four type tests in `complete_value`): ~560 fields for a
50-message page, most of the gateway's CPU for it (bench/PROFILE.md). Here an object whose
selected fields are all basic (leaves, and objects whose own fields are all basic) is built in
one pass, exactly as that path would build it: each value read as Strawberry's basic-field
resolver reads it (the field's `default_resolver` and `python_name`), leaves coerced with the
type's public `coerce_output_value`, objects checked with the type's `is_type_of` and their
selection collected by the executor's own `collect_subfields` (fragments, `@skip`/`@include`).
Basic leaves of other objects (a chat's `id` next to its `messages`) are read the same way.

Anything unusual goes the regular way, for the whole object: a null where the schema says
non-null, an exception, an awaitable, a failed coercion or type check (so errors and their
paths are graphql-core's own), `@defer`, fields with resolvers, lists, abstract types, and every
field of an execution with field middleware (an extension's `resolve` hook, or
gateway/viewer_slots.py's recorder, must see every field). Reading a basic field has no side
effects, so starting over on the regular path is safe.

`execute_fields` and `execute_field` are graphql-core's executor methods (3.3, pinned in
requirements.lock); tests/gateway/test_plain_fields.py checks their signatures and that results
are the same with and without this path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, cast
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    Undefined,
)
from graphql.execution import Executor
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

TYPENAME = "__typename"
# Values that need no awaitable or exception test (what our objects' leaves hold).
_PLAIN_VALUES = frozenset((str, int, float, bool))


class _Basic(NamedTuple):
    """How to read one basic field: Strawberry's default resolver and the attribute's name,
    then either the leaf type's coercion or the object type to build."""

    read: Callable[[Any, str], Any]
    attribute: str
    nullable: bool
    coerce: Callable[[Any], Any] | None  # a leaf
    object_type: GraphQLObjectType | None  # an object


_NO_INFO = cast("GraphQLResolveInfo[Any]", None)
_Fields = dict[tuple[GraphQLObjectType, str], _Basic | None]
_fields_by_schema: WeakKeyDictionary[GraphQLSchema, _Fields] = WeakKeyDictionary()


def _basic(schema: GraphQLSchema, parent_type: GraphQLObjectType, name: str) -> _Basic | None:
    field_def = schema.get_field(parent_type, name)
    if field_def is None or field_def.args:
        return None
    definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    nullable = not isinstance(field_def.type, GraphQLNonNull)
    named = field_def.type.of_type if isinstance(field_def.type, GraphQLNonNull) else field_def.type
    read = definition.default_resolver
    if isinstance(named, GraphQLLeafType):
        return _Basic(read, definition.python_name, nullable, named.coerce_output_value, None)
    if isinstance(named, GraphQLObjectType):
        return _Basic(read, definition.python_name, nullable, None, named)
    return None  # lists and abstract types: the regular path


def _fields(schema: GraphQLSchema) -> _Fields:
    found = _fields_by_schema.get(schema)
    if found is None:
        found = _fields_by_schema[schema] = {}
    return found


def _field(fields: _Fields, schema: GraphQLSchema, parent: GraphQLObjectType, name: str) -> Any:
    key = (parent, name)
    try:
        return fields[key]
    except KeyError:
        made = fields[key] = _basic(schema, parent, name)
        return made


class PlainFields(Executor[Any]):
    """An executor mixin: objects of basic fields built in one pass (see the module doc)."""

    def _plain_allowed(self) -> bool:
        manager = self.middleware_manager
        return manager is None or not manager.middlewares

    def _build(
        self, fields: _Fields, parent_type: GraphQLObjectType, group: GroupedFieldSet, source: Any
    ) -> Any:
        """The object's result, or Undefined when the regular path must answer."""
        schema = self.schema
        results: dict[str, Any] = {}
        for response_name, field_details_list in group.items():
            name = field_details_list[0].node.name.value
            if name == TYPENAME:  # Apollo Client asks for it in every selection
                results[response_name] = parent_type.name
                continue
            basic: _Basic | None = _field(fields, schema, parent_type, name)
            if basic is None:
                return Undefined
            value = self._value(fields, basic, field_details_list, source)
            if value is Undefined:
                return Undefined
            results[response_name] = value
        return results

    def _value(
        self, fields: _Fields, basic: _Basic, field_details_list: FieldDetailsList, source: Any
    ) -> Any:
        try:
            value = basic.read(source, basic.attribute)
            if value is None:
                return None if basic.nullable else Undefined
            if type(value) not in _PLAIN_VALUES and (
                isinstance(value, BaseException) or self.is_awaitable(value)
            ):
                return Undefined
            if basic.coerce is not None:
                coerced = basic.coerce(value)
                return Undefined if coerced is None else coerced
            object_type = basic.object_type
            assert object_type is not None
            is_type_of = object_type.is_type_of
            # Strawberry's is_type_of (the only kind in a Strawberry schema) reads no info.
            if is_type_of is not None and is_type_of(value, _NO_INFO) is not True:
                return Undefined
            group, defer_usages, forbidden = self.collect_subfields(object_type, field_details_list)
        except Exception:  # the regular path raises it again, located on the field
            return Undefined
        if defer_usages or forbidden:
            return Undefined
        return self._build(fields, object_type, group, value)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if position_context is None and self._plain_allowed():
            built = self._build(_fields(self.schema), parent_type, grouped_field_set, source_value)
            if built is not Undefined:
                return built  # type: ignore[no-any-return]
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """A basic leaf of an object that also has other fields (a chat's `id`)."""
        if position_context is None and self._plain_allowed():
            fields = _fields(self.schema)
            name = field_details_list[0].node.name.value
            basic = _field(fields, self.schema, parent_type, name)
            if basic is not None and basic.coerce is not None:
                value = self._value(fields, basic, field_details_list, source)
                if value is not Undefined:
                    return value
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
