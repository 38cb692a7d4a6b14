"""The gateway's extension masks unexpected errors, in single results and in every streamed one;
so does its subscription runner (gateway/subscription_runner.py), which logs them first.

A small schema of its own, so each kind of failure can be raised on purpose; the gateway's
real path (a service down) is in test_http_api.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from functools import partial

import pytest
import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionResult

from gateway.clients import ServiceUnavailable
from gateway.errors import ClientFacingError
from gateway.schema import (
    MASKED_MESSAGE,
    UNAVAILABLE_MESSAGE,
    GatewayExtension,
    GatewaySchema,
    ValidationRules,
)

SECRET = "secret detail at 10.0.0.7"


@strawberry.type
class Tick:
    number: int

    @strawberry.field
    def checked(self) -> int:
        if self.number == 2:
            raise RuntimeError(SECRET)
        return self.number


@strawberry.type
class Query:
    @strawberry.field
    def broken(self) -> str:
        raise RuntimeError(SECRET)

    @strawberry.field
    def unreachable(self) -> str:
        raise ServiceUnavailable(SECRET)

    @strawberry.field
    def refused(self) -> str:
        raise ClientFacingError("Not yours", "FORBIDDEN")


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[Tick, None]:
        for number in (1, 2, 3):
            yield Tick(number=number)


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        subscription=Subscription,
        extensions=[partial(GatewayExtension, ValidationRules(()))],
    )


@pytest.fixture(scope="module")
def gateway_schema() -> GatewaySchema:
    """The gateway's schema class: its subscriptions run on its SubscriptionRunner."""
    return GatewaySchema(ValidationRules(()), query=Query, subscription=Subscription)


def messages(result: object) -> list[tuple[str, object]]:
    errors: list[GraphQLError] = getattr(result, "errors", None) or []
    return [(error.message, error.extensions) for error in errors]


async def test_unexpected_errors_lose_their_details(schema: strawberry.Schema) -> None:
    result = await schema.execute("{ broken }")
    assert messages(result) == [(MASKED_MESSAGE, {})]
    assert result.errors is not None
    assert result.errors[0].path == ["broken"]
    assert result.errors[0].original_error is None


async def test_an_unreachable_service_says_so(schema: strawberry.Schema) -> None:
    result = await schema.execute("{ unreachable }")
    assert messages(result) == [(UNAVAILABLE_MESSAGE, {"code": "SERVICE_UNAVAILABLE"})]


async def test_client_errors_are_left_alone(schema: strawberry.Schema) -> None:
    refused = await schema.execute("{ refused }")
    assert messages(refused) == [("Not yours", {"code": "FORBIDDEN"})]
    invalid = await schema.execute("{ nothing }")
    assert invalid.errors is not None
    assert "nothing" in invalid.errors[0].message


@pytest.mark.parametrize("kind", ["strawberry", "gateway"])
async def test_every_streamed_result_is_masked(
    kind: str,
    schema: strawberry.Schema,
    gateway_schema: GatewaySchema,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Strawberry's stream (with the gateway's extension: what a subscription too long to
    cache takes) and the gateway's runner (every other subscription) mask alike."""
    chosen = gateway_schema if kind == "gateway" else schema
    stream = await chosen.subscribe("subscription { ticks { number checked } }")
    assert not isinstance(stream, ExecutionResult)
    results = [result async for result in stream]
    assert [result.data for result in results] == [
        {"ticks": {"number": 1, "checked": 1}},
        None,  # the non-null field's error nulls the whole event
        {"ticks": {"number": 3, "checked": 3}},
    ]
    assert [messages(result) for result in results] == [[], [(MASKED_MESSAGE, {})], []]
    assert SECRET not in repr(results)
    if kind == "gateway":  # logged with its details before it was masked
        logged = [r for r in caplog.records if r.name == "mychat.gateway.error"]
        assert [r.getMessage() for r in logged] == ["unexpected error in ticks.checked (request -)"]
        assert logged[0].levelno == logging.ERROR
        assert SECRET in str(logged[0].exc_info[1] if logged[0].exc_info else None)


async def test_the_runner_takes_subscriptions_only(gateway_schema: GatewaySchema) -> None:
    """Queries over a stream, and documents that do not parse or validate, go Strawberry's
    way (its errors); a valid subscription the runner's."""
    runner = gateway_schema.subscriptions
    assert runner.results("subscription { ticks { number } }", None, None, None, None)
    assert runner.results("{ refused }", None, None, None, None) is None
    assert runner.results("subscription { nothing }", None, None, None, None) is None
    assert runner.results("subscription {", None, None, None, None) is None
    two = "query Q { refused } subscription S { ticks { number } }"
    assert runner.results(two, None, None, None, "S") is not None
    assert runner.results(two, None, None, None, "Q") is None
    assert runner.results(two, None, None, None, None) is None  # which one is unclear
    invalid = await gateway_schema.subscribe("subscription { nothing }")
    assert not isinstance(invalid, ExecutionResult)
    [result] = [result async for result in invalid]
    assert result.errors is not None
    assert "nothing" in result.errors[0].message


async def test_a_query_over_a_stream_is_masked(schema: strawberry.Schema) -> None:
    stream = await schema.stream("{ broken }")
    assert not isinstance(stream, ExecutionResult)
    results = [result async for result in stream]
    assert [messages(result) for result in results] == [[(MASKED_MESSAGE, {})]]
