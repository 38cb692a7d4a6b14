"""The OpenAPI document: served as kept in the repo, valid 3.1, and true of the running app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import hypothesis
import jsonschema_rs
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette

from assembly.embedded import PrefixDispatcher
from auth_service.app import create_app as create_auth_app
from chat_service.app import create_app as create_chat_app
from mychat.openapi import OPENAPI_PATH, load_openapi_document
from mychat.settings import Settings
from tests.support.people import register_person
from tests.support.ports import serving

EXAMPLES_PER_OPERATION = 12


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(load_openapi_document())
    return loaded


def rest_api(settings: Settings) -> Starlette:
    """auth_service and chat_service behind one port, as in embedded mode."""
    auth_app = create_auth_app(settings)
    chat_app = create_chat_app(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with (
            auth_app.router.lifespan_context(auth_app),
            chat_app.router.lifespan_context(chat_app),
        ):
            yield

    dispatcher = PrefixDispatcher(
        [
            ("/mychat/api/auth", auth_app),
            (OPENAPI_PATH, auth_app),
            ("/mychat/api/chat", chat_app),
        ],
        fallback=chat_app,
    )
    app = Starlette(lifespan=lifespan)
    app.mount("/", dispatcher)
    return app


def iter_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from iter_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_refs(item)


def test_the_document_is_valid_openapi_31() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.1.")
    schemathesis.openapi.from_dict(doc).validate()  # the OpenAPI 3.1 meta-schema
    for name, schema in doc["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name  # JSON Schema 2020-12
    for ref in iter_refs(doc):
        node: Any = doc
        assert ref.startswith("#/"), ref
        for part in ref[2:].split("/"):
            node = node[part]


def test_the_document_covers_the_seed_endpoints() -> None:
    operations = {
        (method.upper(), path)
        for path, item in document()["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert operations >= {
        ("POST", "/mychat/api/auth/register"),
        ("POST", "/mychat/api/auth/login"),
        ("POST", "/mychat/api/auth/verify"),
        ("GET", "/mychat/api/chat/"),
        ("POST", "/mychat/api/chat/"),
        ("GET", "/mychat/api/chat/{chat_id}"),
        ("POST", "/mychat/api/chat/{chat_id}/leave"),
        ("POST", "/mychat/api/chat/{chat_id}/message"),
        ("POST", "/mychat/api/chat/{chat_id}/add-user"),
    }


async def test_the_served_document_is_the_file(settings: Settings) -> None:
    app = create_auth_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
    ):
        response = await client.get(OPENAPI_PATH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == load_openapi_document()


async def test_the_running_app_conforms_to_the_document(settings: Settings) -> None:
    async with serving(rest_api(settings), lifespan="on") as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            served = (await client.get(OPENAPI_PATH)).json()
            assert served == document()
            headers = await _user_with_a_chat(client)
        await asyncio.to_thread(_run_schemathesis, served, base_url, headers)


async def _user_with_a_chat(client: httpx.AsyncClient) -> dict[str, str]:
    """A caller whose chat 1 exists (the document's example chat_id) and has a message."""
    headers = (await register_person(client, "Schema")).headers
    created = await client.post("/mychat/api/chat/", json={"name": "First"}, headers=headers)
    assert created.json() == {"chat_id": 1}
    sent = await client.post("/mychat/api/chat/1/message", json={"text": "hi"}, headers=headers)
    assert sent.status_code == 200, sent.text
    return headers


def _run_schemathesis(raw_schema: dict[str, Any], base_url: str, headers: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_dict(raw_schema)
    checks = [
        # not_a_server_error is implied: a 5xx is never a documented status here.
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    failures: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    # Leaving chat 1 last keeps the other operations' examples inside a chat the caller is in.
    operations.sort(key=lambda operation: operation.path.endswith("/leave"))
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _check_operation(operation.as_strategy(mode), base_url, headers, checks)
            except Unsatisfiable:
                continue  # nothing to make invalid (no parameters, no body)
            except Exception as error:  # collect every operation's failure, then fail once
                failures.append(f"{operation.label} ({mode}): {error}")
    assert not failures, "\n\n".join(failures)


def _check_operation(
    strategy: Any, base_url: str, headers: dict[str, str], checks: list[Any]
) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
        case.validate_response(response, checks=checks)

    check()
