"""HTTP clients of the tests: an app in-process, the bearer header, GraphQL over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp

GRAPHQL_PATH = "/mychat/graphql"


def asgi_client(app: ASGIApp, base_url: str = "http://testserver") -> httpx.AsyncClient:
    """A client that calls the app in this process, no socket."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base_url)


def bearer(token: str | None) -> dict[str, str]:
    """The Authorization header for a token; none without one."""
    return {"Authorization": f"Bearer {token}"} if token else {}


async def graphql_body(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """POST a GraphQL document; the 200 response's whole body (data and errors)."""
    response = await client.post(
        GRAPHQL_PATH, json={"query": query, "variables": variables or {}}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """POST a GraphQL document that must succeed; its `data`."""
    body = await graphql_body(client, query, variables, token)
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data
