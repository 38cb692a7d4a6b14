"""Plain fields without graphql-core's per-field machinery.

Most of a history page or a chat list is values read straight off our objects (`text`,
`createdAt`, `sender { id nickname }`): Strawberry's "basic" fields, with no resolver and no
arguments. graphql-core still runs each through its full path (a Path, resolve info, the
middleware lookup, the resolver wrapper, four type tests in `complete_value`): ~560 fields for a
50-message page, most of the gateway's CPU for it (bench/PROFILE.md). Here an object whose
selected fields are all basic (leaves, objects whose own fields are all basic, and lists of
either) is built in one pass, exactly as that path would build it: each value read as
Strawberry's basic-field resolver reads it (the field's `default_resolver` and `python_name`),
leaves coerced with the type's public `coerce_output_value`, objects checked with the type's
`is_type_of` and their selection collected by the executor's own `collect_subfields`
(fragments, `@skip`/`@include`). Basic fields of other objects (a chat's `id` and `name` next
to its `messages`) are read the same way.

A field with a resolver can say how to read it without one: declared with `field(read)` (here),
its Strawberry `metadata` names `read`, a function of (source, context) that returns the value
the resolver would return, or `Undefined` when only the resolver can answer (a chat's `lastMessage`
when the chat was built with it, `reactedByMe` from the viewer in the context). The resolver
stays the only way for everything else, and calls the same function where it can, so the two
cannot disagree.

Anything unusual goes the regular way, for the whole object: a null where the schema says
non-null, an exception, an awaitable, a failed coercion or type check (so errors and their
paths are graphql-core's own), `@defer`, `@stream`, fields with resolvers and no plain read,
fields with arguments, nested lists, abstract types, and every field of an execution with field
middleware (an extension's `resolve` hook, or gateway/viewer_slots.py's recorder, must see every
field). Reading a basic field has no side effects, nor may a plain read, so starting over on the
regular path is safe.

`execute_fields` and `execute_field` are graphql-core's executor methods (3.3, pinned in
requirements.lock); tests/gateway/test_plain_fields.py checks their signatures and that results
are the same with and without this path.
"""

from __future__ import annotations

from collections.abc import Callable
from types import GeneratorType
from typing import Any, NamedTuple, TypeVar, cast
from weakref import WeakKeyDictionary

import strawberry
from graphql import (
    GraphQLBoolean,
    GraphQLID,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLString,
    Undefined,
)
from graphql.execution import Executor
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

TYPENAME = "__typename"
# Classes whose instances need no awaitable or exception test: what our objects' leaves hold,
# and every class met since whose instances cannot be awaited (our types, datetime, enums,
# lists: a few dozen in a schema).
_plain_types: set[type] = {str, int, float, bool, list}
# The metadata key of a field's plain read (see the module doc).
PLAIN_READ = "mychat.plain_read"
STREAM = "stream"

# graphql-core's own scalars (Strawberry's str, ID and bool), whose serializers return a value
# of this type as it is.
_AS_IS: dict[GraphQLOutputType, type] = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}

PlainRead = Callable[[Any, Any], Any]  # (source, context) -> the value, or Undefined
F = TypeVar("F", bound=Callable[..., Any])


def field(read: PlainRead, description: str | None = None) -> Callable[[F], F]:
    """`strawberry.field` for a resolver that `read` answers without it when it can."""
    return cast(
        Callable[[F], F], strawberry.field(description=description, metadata={PLAIN_READ: read})
    )


class _Item(NamedTuple):
    """How to complete a value of one (non-list) type: a leaf's coercion or an object type."""

    coerce: Callable[[Any], Any] | None  # a leaf
    object_type: GraphQLObjectType | None  # an object
    # A leaf's values of this Python type are their own output (a str for String and ID, a
    # bool for Boolean: what graphql-core's serializers return unchanged).
    as_is: type | None = None


class _Basic(NamedTuple):
    """How to read one field: Strawberry's default resolver and the attribute's name, or the
    field's plain read; then how to complete the value (or each item of a list)."""

    read: Callable[[Any, str], Any]
    attribute: str
    plain: PlainRead | None
    nullable: bool
    item: _Item
    is_list: bool
    item_nullable: bool
    # A basic (no plain read) single leaf's item.as_is: read it and done when of this type.
    as_is: type | None


_NO_INFO = cast("GraphQLResolveInfo[Any]", None)
_Fields = dict[tuple[GraphQLObjectType, str], _Basic | None]
_fields_by_schema: WeakKeyDictionary[GraphQLSchema, _Fields] = WeakKeyDictionary()


def _unwrap(type_: GraphQLOutputType) -> tuple[bool, GraphQLOutputType]:
    """(nullable, the type inside a NonNull)."""
    if isinstance(type_, GraphQLNonNull):
        return False, type_.of_type
    return True, type_


def _item(type_: GraphQLOutputType) -> _Item | None:
    if isinstance(type_, GraphQLLeafType):
        return _Item(type_.coerce_output_value, None, _AS_IS.get(type_))
    if isinstance(type_, GraphQLObjectType):
        return _Item(None, type_)
    return None  # lists of lists and abstract types: the regular path


def _basic(schema: GraphQLSchema, parent_type: GraphQLObjectType, name: str) -> _Basic | None:
    field_def = schema.get_field(parent_type, name)
    if field_def is None or field_def.args:
        return None
    definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or definition.extensions:
        return None
    plain: PlainRead | None = None
    if not definition.is_basic_field:
        metadata = definition.metadata
        plain = metadata.get(PLAIN_READ) if metadata else None
        if plain is None:
            return None
    nullable, named = _unwrap(field_def.type)
    is_list = isinstance(named, GraphQLList)
    item_nullable = False
    if isinstance(named, GraphQLList):
        item_nullable, named = _unwrap(named.of_type)
    item = _item(named)
    if item is None:
        return None
    read = definition.default_resolver
    as_is = None if plain is not None or is_list else item.as_is
    return _Basic(
        read, definition.python_name, plain, nullable, item, is_list, item_nullable, as_is
    )


_UNKNOWN: Any = object()  # a field not looked at yet (None: not a plain field)


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


def _leaf(item: _Item, value: Any) -> Any:
    """A non-null leaf value coerced (exceptions: the caller's)."""
    if type(value) is item.as_is:
        return value
    assert item.coerce is not None
    coerced = item.coerce(value)
    return Undefined if coerced is None else coerced


def _streamed(field_details_list: FieldDetailsList) -> bool:
    return any(
        directive.name.value == STREAM
        for details in field_details_list
        for directive in details.node.directives or ()
    )


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
            basic: _Basic | None = fields.get((parent_type, name), _UNKNOWN)
            if basic is _UNKNOWN:
                basic = _field(fields, schema, parent_type, name)
            if basic is None:
                return Undefined
            as_is = basic.as_is
            if as_is is not None:  # most leaves: a str or bool read as it is, nothing to check
                try:
                    value = basic.read(source, basic.attribute)
                except Exception:  # the regular path raises it again, located on the field
                    return Undefined
                if type(value) is as_is:
                    results[response_name] = value
                    continue
            value = self._value(fields, basic, field_details_list, source)
            if value is Undefined:
                return Undefined
            results[response_name] = value
        return results

    def _value(
        self, fields: _Fields, basic: _Basic, field_details_list: FieldDetailsList, source: Any
    ) -> Any:
        try:
            if basic.plain is None:
                value = basic.read(source, basic.attribute)
            else:
                value = basic.plain(source, self.context_value)
                if value is Undefined:
                    return Undefined
            if value is None:
                return None if basic.nullable else Undefined
            if type(value) not in _plain_types and not self._plain_value(value):
                return Undefined
            item = basic.item
            if not basic.is_list:
                if item.coerce is not None:
                    return _leaf(item, value)
                group = self._group(item, field_details_list)
                return Undefined if group is None else self._object(fields, item, group, value)
            if type(value) is not list or _streamed(field_details_list):
                return Undefined
            group = None
            if item.object_type is not None and value:
                group = self._group(item, field_details_list)  # one selection for every item
                if group is None:
                    return Undefined
            items: list[Any] = []
            for entry in value:
                if entry is None:
                    if not basic.item_nullable:
                        return Undefined
                    items.append(None)
                    continue
                if type(entry) not in _plain_types and not self._plain_value(entry):
                    return Undefined
                if group is None:
                    completed = _leaf(item, entry)
                else:
                    completed = self._object(fields, item, group, entry)
                if completed is Undefined:
                    return Undefined
                items.append(completed)
        except Exception:  # the regular path raises it again, located on the field
            return Undefined
        return items

    def _plain_value(self, value: Any) -> bool:
        """Whether a value is a value (not an exception or an awaitable). A class whose
        instances are never awaitable is remembered (a generator may or may not be one)."""
        if isinstance(value, BaseException) or self.is_awaitable(value):
            return False
        kind = type(value)
        if not isinstance(value, GeneratorType) and not hasattr(kind, "__await__"):
            _plain_types.add(kind)
        return True

    def _group(self, item: _Item, field_details_list: FieldDetailsList) -> GroupedFieldSet | None:
        """The selection on an object type, or None when it defers anything."""
        assert item.object_type is not None
        group, defer_usages, forbidden = self.collect_subfields(
            item.object_type, field_details_list
        )
        return None if defer_usages or forbidden else group

    def _object(self, fields: _Fields, item: _Item, group: GroupedFieldSet, value: Any) -> Any:
        """A non-null value of an object type (exceptions: the caller's)."""
        object_type = item.object_type
        assert object_type is not None
        is_type_of = object_type.is_type_of
        # Strawberry's is_type_of (the only kind in a Strawberry schema) reads no info.
        if is_type_of is not None and is_type_of(value, _NO_INFO) is not True:
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
        """A plain field of an object that also has other fields (a chat's `id` next to its
        `messages`)."""
        if position_context is None and self._plain_allowed():
            fields = _fields(self.schema)
            name = field_details_list[0].node.name.value
            basic = _field(fields, self.schema, parent_type, name)
            if basic is not None:
                value = self._value(fields, basic, field_details_list, source)
                if value is not Undefined:
                    return value
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
