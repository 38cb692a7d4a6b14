"""Objects of plain fields built in one pass give exactly graphql-core's results and errors."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
import strawberry
from graphql import Undefined
from graphql.execution import Executor
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway import plain_fields
from gateway.plain_fields import PlainFields
from gateway.schema import build_schema
from gateway.shared_events import SharedEventExecutor


class Fast(PlainFields, StrawberryGraphQLCoreExecutionContext):
    """The mixin alone, counting the objects it built."""

    built = 0

    def _build(self, *args: Any) -> Any:
        result = super()._build(*args)
        if isinstance(result, dict):
            Fast.built += 1
        return result


@strawberry.enum
class Mood(Enum):
    HAPPY = "happy"
    GRUMPY = "grumpy"


@strawberry.type
class Person:
    id: strawberry.ID
    nickname: str
    mood: Mood
    age: int | None = None


def _liked_by_me(post: Post, context: Any) -> Any:
    """The plain read of `likedByMe`: Undefined (only the resolver answers) without a viewer."""
    if context is None or post.likes is None:
        return Undefined
    return context["viewer"] in post.likes


@strawberry.type
class Post:
    id: strawberry.ID
    text: str
    at: datetime
    author: Person
    editor: Person | None = None
    score: float = 1.5
    pinned: bool = False
    tags: list[str] = strawberry.field(default_factory=list)
    readers: list[Person] = strawberry.field(default_factory=list)
    maybe: list[Person | None] | None = None
    likes: strawberry.Private[frozenset[str] | None] = None

    @strawberry.field
    def shout(self) -> str:
        return self.text.upper()

    @plain_fields.field(_liked_by_me)
    def liked_by_me(self, info: strawberry.Info) -> bool | None:
        found = _liked_by_me(self, info.context)
        return None if found is Undefined else bool(found)


class Broken:
    """Not a Person, but with its attributes."""

    id = "x"
    nickname = "x"
    mood = Mood.HAPPY
    age = None


def _person(nickname: str = "ann", *, age: int | None = 30) -> Person:
    return Person(id=strawberry.ID("P1"), nickname=nickname, mood=Mood.GRUMPY, age=age)


def _posts() -> list[Post]:
    at = datetime(2026, 12, 3, 10, 0, 0, 123456, tzinfo=UTC)
    return [
        Post(
            id=strawberry.ID(f"M{n}"),
            text=f"post {n}",
            at=at,
            author=_person(),
            editor=None,
            tags=[f"t{k}" for k in range(n)],
            readers=[_person(f"r{k}") for k in range(n)],
            maybe=None if n == 0 else [None, _person("m")],
            likes=None if n == 2 else frozenset({"ann"}) if n else frozenset(),
        )
        for n in range(3)
    ]


def _schema(
    posts: Callable[[], list[Any]], executor: type | None, extensions: list[Any] | None = None
) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        def posts(self) -> list[Post]:
            return posts()

    kwargs: dict[str, Any] = {"extensions": extensions or []}
    if executor is not None:
        kwargs["execution_context_class"] = executor
    return strawberry.Schema(query=Query, **kwargs)


DOCUMENTS = [
    "{ posts { id text at score pinned __typename author { id nickname mood age __typename } } }",
    "{ posts { a: id b: text author { n: nickname ...P } editor { id } } } "
    "fragment P on Person { mood age }",
    "query Q($skip: Boolean!) { posts { id text @skip(if: $skip) author @include(if: $skip) "
    "{ id } ... on Post { at } } }",
    "{ posts { id shout author { nickname } } }",  # a resolver next to basic fields
    "{ posts { tags readers { nickname ...P } maybe { id } __typename } } "
    "fragment P on Person { mood age __typename }",
    "{ posts { id likedByMe readers { nickname } } }",  # a resolver with a plain read
]


async def _both(
    document: str,
    posts: Callable[[], list[Any]],
    variables: dict[str, Any] | None = None,
    context: Any = None,
) -> tuple[Any, Any]:
    regular = await _schema(posts, None).execute(
        document, variable_values=variables, context_value=context
    )
    fast = await _schema(posts, Fast).execute(
        document, variable_values=variables, context_value=context
    )
    return regular, fast


def _same(regular: Any, fast: Any) -> None:
    assert fast.data == regular.data
    assert [e.formatted for e in fast.errors or []] == [e.formatted for e in regular.errors or []]


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("context", [None, {"viewer": "ann"}])
async def test_same_results_as_graphql_core(document: str, context: Any) -> None:
    Fast.built = 0
    for skip in (True, False):
        regular, fast = await _both(
            document, _posts, {"skip": skip} if "$skip" in document else None, context
        )
        _same(regular, fast)
        assert regular.errors is None
    assert Fast.built > 0


async def test_lists_and_plain_reads_are_built_in_one_pass() -> None:
    """A whole list of posts (lists inside, a resolver with a plain read) in one pass, unless
    a plain read leaves it to the resolver."""
    document = "{ posts { id likedByMe tags readers { nickname } maybe { id } } }"
    viewer = {"viewer": "ann"}
    Fast.built = 0
    regular, fast = await _both(document, lambda: _posts()[:2], context=viewer)
    _same(regular, fast)
    assert [post["likedByMe"] for post in fast.data["posts"]] == [False, True]
    # The list's objects, each post's readers and non-null `maybe` entries: 2 + 1 + 1.
    assert Fast.built == 4
    Fast.built = 0
    regular, fast = await _both(document, _posts, context=viewer)  # the third: no read
    _same(regular, fast)
    assert fast.data["posts"][2]["likedByMe"] is None
    # Posts 0 and 1 as before (4); post 2 goes field by field, its readers (2) and `maybe`
    # entry (1) each still built in one pass.
    assert Fast.built == 7


async def test_a_null_in_a_non_null_field_is_graphql_cores_error() -> None:
    def posts() -> list[Post]:
        found = _posts()
        found[1].author.nickname = None  # type: ignore[assignment]
        found[2].text = None  # type: ignore[assignment]
        return found

    regular, fast = await _both("{ posts { id text author { nickname } } }", posts)
    _same(regular, fast)
    # The first null propagates up to the (non-null) list, as graphql-core does it.
    assert regular.errors
    assert [e.path for e in regular.errors] == [["posts", 1, "author", "nickname"]]


def _broken_author(post: Any) -> None:
    post.author = Broken()


def _bad_score(post: Any) -> None:
    post.score = "not a number"


def _int_too_large(post: Any) -> None:
    post.editor = _person(age=2**40)  # beyond GraphQL's Int


@pytest.mark.parametrize(
    ("spoil", "errors"),
    # Strawberry checks no object type without interfaces: a duck-typed author is read as is.
    [(_broken_author, 0), (_bad_score, 1), (_int_too_large, 1)],
)
async def test_wrong_types_and_bad_leaves_are_graphql_cores_errors(
    spoil: Callable[[Any], None], errors: int
) -> None:
    await _same_with_spoiled_post(
        "{ posts { id score author { id } editor { age } } }", spoil, errors
    )


def _null_reader(post: Any) -> None:
    post.readers = [_person(), None]


def _bad_tag(post: Any) -> None:
    post.tags = ["ok", object()]


def _tuple_of_tags(post: Any) -> None:
    post.tags = ("a", "b")  # any iterable is a list to graphql-core


@pytest.mark.parametrize(
    ("spoil", "errors"), [(_null_reader, 1), (_bad_tag, 1), (_tuple_of_tags, 0)]
)
async def test_bad_list_items_are_graphql_cores_errors(
    spoil: Callable[[Any], None], errors: int
) -> None:
    await _same_with_spoiled_post("{ posts { id tags readers { nickname } } }", spoil, errors)


async def _same_with_spoiled_post(document: str, spoil: Callable[[Any], None], errors: int) -> None:
    """The document over posts whose second one is spoiled: both paths answer alike, with
    `errors` errors."""

    def posts() -> list[Any]:
        found: list[Any] = _posts()
        spoil(found[1])
        return found

    regular, fast = await _both(document, posts)
    _same(regular, fast)
    assert len(regular.errors or []) == errors


async def test_field_middleware_sees_every_field() -> None:
    seen: list[str] = []

    class Seen(SchemaExtension):
        def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    schema = _schema(_posts, Fast, [Seen])
    result = await schema.execute("{ posts { id author { nickname } } }")
    assert result.errors is None
    assert seen.count("nickname") == 3
    assert seen.count("id") == 3


def test_the_gateway_executes_with_it() -> None:
    assert issubclass(SharedEventExecutor, PlainFields)
    schema = build_schema()
    assert schema.execution_context_class is SharedEventExecutor


@pytest.mark.parametrize(
    ("method", "parameters"),
    [
        (
            "execute_fields",
            [
                "self",
                "parent_type",
                "source_value",
                "path",
                "grouped_field_set",
                "position_context",
            ],
        ),
        (
            "execute_field",
            ["self", "parent_type", "source", "field_details_list", "path", "position_context"],
        ),
        ("collect_subfields", ["self", "return_type", "field_details_list"]),
    ],
)
def test_graphql_core_executor_methods_keep_their_shape(method: str, parameters: list[str]) -> None:
    """PlainFields overrides and calls these: fails loudly if graphql-core changes them."""
    assert list(inspect.signature(getattr(Executor, method)).parameters) == parameters
