"""GraphQL-over-HTTP behaviour, limits and the GraphiQL page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import KnownTypeNamesRule, NoUnusedFragmentsRule, UniqueOperationNamesRule

from gateway.schema import CACHE_SIZE, GatewayExtension, ValidationRules
from mychat.pages import GRAPHIQL_SECURITY_HEADERS
from mychat.settings import Settings
from tests.gateway.conftest import GRAPHQL, Gateway, composed, service_settings

GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.fixture
async def gateway_with_dist(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[Gateway, Path]]:
    """A gateway whose web build (MYCHAT_WEB_DIST) is an empty folder the test fills."""
    settings = service_settings(settings).model_copy(update={"web_dist": tmp_path})
    async with composed(settings) as (app, auth, chat):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Gateway(client, auth.calls, chat.calls, settings), tmp_path


async def test_get_runs_queries(gateway: Gateway) -> None:
    response = await gateway.client.get(
        GRAPHQL, params={"query": "{ me { id } }"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"data": {"me": None}}


async def test_post_runs_queries_and_mutations(gateway: Gateway) -> None:
    user = await gateway.register("Alice")
    assert (await gateway.data("{ me { nickname } }", token=user.token))["me"][
        "nickname"
    ] == "Alice"


async def test_mutation_over_get_is_405(gateway: Gateway) -> None:
    response = await gateway.client.get(
        GRAPHQL,
        params={"query": 'mutation { login(login: "a", password: "b") { __typename } }'},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "errors" in response.json()


async def test_graphql_response_media_type_when_asked(gateway: Gateway) -> None:
    response = await gateway.client.post(
        GRAPHQL, json={"query": "{ me { id } }"}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json() == {"data": {"me": None}}


async def test_unparsable_document_is_400_without_data(gateway: Gateway) -> None:
    response = await gateway.client.post(
        GRAPHQL, json={"query": "{ me { id "}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    body = response.json()
    assert "data" not in body
    assert "Syntax Error" in body["errors"][0]["message"]


async def test_invalid_document_is_400_without_data(gateway: Gateway) -> None:
    response = await gateway.client.post(
        GRAPHQL, json={"query": "{ nope }"}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 400
    assert "data" not in response.json()


async def test_legacy_json_keeps_200_for_request_errors(gateway: Gateway) -> None:
    response = await gateway.client.post(
        GRAPHQL, json={"query": "{ me { id "}, headers={"accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["data"] is None


async def test_field_errors_keep_200_and_data(gateway: Gateway) -> None:
    response = await gateway.client.post(
        GRAPHQL,
        json={"query": "{ chats { edges { cursor } } }"},
        headers={"accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert response.json()["errors"][0]["path"] == ["chats"]


async def test_bad_json_body_and_content_type(gateway: Gateway) -> None:
    bad_json = await gateway.client.post(
        GRAPHQL, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert "errors" in bad_json.json()
    no_query = await gateway.client.post(GRAPHQL, json={"variables": {}})
    assert no_query.status_code == 400
    wrong_type = await gateway.client.post(
        GRAPHQL, content=b"query", headers={"content-type": "text/plain"}
    )
    assert wrong_type.status_code == 400
    wrong_query_type = await gateway.client.post(GRAPHQL, json={"query": 5})
    assert wrong_query_type.status_code == 400
    not_object = await gateway.client.post(GRAPHQL, json=None)
    assert not_object.status_code == 400
    other_method = await gateway.client.put(GRAPHQL, json={"query": "{ me { id } }"})
    assert other_method.status_code == 405


async def test_batching_is_refused(gateway: Gateway) -> None:
    response = await gateway.client.post(
        GRAPHQL, json=[{"query": "{ me { id } }"}, {"query": "{ me { id } }"}]
    )
    assert response.status_code == 400
    assert "Batching" in response.text


async def test_too_deep_query_is_refused(gateway: Gateway) -> None:
    # The schema has no cycles, so only made-up fields nest this deep; depth is checked first.
    deep = "{ chats { edges { node { members { user { " + "a { " * 7 + "b" + " }" * 12 + " }"
    body = await gateway.post(deep)
    assert body["data"] is None
    messages = [error["message"] for error in body["errors"]]
    assert any("exceeds maximum operation depth of 10" in m for m in messages), body
    # The deepest real query of the schema is fine, and the server is still up.
    ok = "{ chats { edges { node { messages { edges { node { sender { id } } } } } } } }"
    assert (await gateway.post(ok))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await gateway.data("{ me { id } }") == {"me": None}


async def test_too_many_aliases_is_refused(gateway: Gateway) -> None:
    query = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(31)) + " }"
    body = await gateway.post(query)
    assert body["data"] is None
    assert "aliases" in body["errors"][0]["message"]
    assert await gateway.data("{ me { id } }") == {"me": None}


async def test_too_many_tokens_is_refused(gateway: Gateway) -> None:
    query = "{ " + "me { id } " * 700 + "}"
    body = await gateway.post(query)
    assert body["data"] is None
    assert "token" in body["errors"][0]["message"].lower()


async def test_oversized_body_is_413(gateway: Gateway) -> None:
    query = "{ me { id } }" + " " * (70 * 1024)
    response = await gateway.client.post(GRAPHQL, json={"query": query})
    assert response.status_code == 413


async def test_oversized_streamed_body_is_413(gateway: Gateway) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ me { id } }", "x": "'
        for _ in range(10):
            yield b"x" * 10_000
        yield b'"}'

    response = await gateway.client.post(
        GRAPHQL, content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_graphiql_for_browsers_is_the_built_page_with_the_app_headers(
    gateway_with_dist: tuple[Gateway, Path],
) -> None:
    gateway, dist = gateway_with_dist
    page = dist / "graphiql.html"
    page.write_text('<!doctype html><script type="module" src="/assets/graphiql-x.js"></script>')
    response = await gateway.client.get(GRAPHQL, headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == page.read_text()  # served as built: no CDN, nothing patched in
    for header, value in GRAPHIQL_SECURITY_HEADERS.items():
        assert response.headers[header] == value
    assert "script-src" not in response.headers["content-security-policy"]  # no inline scripts
    assert response.headers["cache-control"] == "no-cache"


async def test_graphiql_not_built_is_503_not_500(gateway_with_dist: tuple[Gateway, Path]) -> None:
    gateway, _dist = gateway_with_dist  # an empty folder: nothing built
    response = await gateway.client.get(GRAPHQL, headers={"accept": "text/html"})
    assert response.status_code == 503
    assert "make install" in response.text
    assert response.headers["x-frame-options"] == "DENY"


async def test_health_and_readiness(gateway: Gateway) -> None:
    assert (await gateway.client.get("/healthz")).json() == {"status": "ok"}
    ready = await gateway.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_request_id_header(gateway: Gateway) -> None:
    response = await gateway.client.post(GRAPHQL, json={"query": "{ me { id } }"})
    assert response.headers["x-request-id"]


def test_validation_rules_are_one_tuple_for_every_operation() -> None:
    """Each operation keeps its rules for its life (a subscription's, the socket's): one sum."""
    base = (KnownTypeNamesRule, UniqueOperationNamesRule)
    rules = ValidationRules((NoUnusedFragmentsRule,))
    first = rules.with_limits(base)
    assert first == (KnownTypeNamesRule, UniqueOperationNamesRule, NoUnusedFragmentsRule)
    assert rules.with_limits(base) is first
    other = (KnownTypeNamesRule,)
    assert rules.with_limits(other) == (KnownTypeNamesRule, NoUnusedFragmentsRule)


async def test_parsing_and_validation_are_cached_across_requests(gateway: Gateway) -> None:
    # The limit rules must be the same classes on every request, or validation never hits.
    # Also fails loudly if Strawberry's ParserCache/ValidationCache stop being what the
    # gateway's extension inherits its caches from.
    extension = GatewayExtension(ValidationRules(()))
    # Strawberry types them as plain callables; they are functools.lru_cache wrappers.
    caches: tuple[Any, Any] = (extension.cached_parse_document, extension.cached_validate_document)
    assert [cache.cache_info().maxsize for cache in caches] == [CACHE_SIZE, CACHE_SIZE]
    query = "{ me { id nickname } }"
    await gateway.post(query)
    hits_before = [cache.cache_info().hits for cache in caches]
    await gateway.post(query)
    await gateway.post(query)
    assert [cache.cache_info().hits for cache in caches] == [hits + 2 for hits in hits_before]
