"""An auth app on the test's database, its lifespan entered, and an in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from auth_service.app import create_app
from mychat.settings import Settings

PASSWORD = "correct horse battery"


@pytest.fixture
async def auth_app(settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(auth_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(auth_app), base_url="http://testserver"
    ) as client:
        yield client


async def register(
    client: httpx.AsyncClient,
    login: str = "alice",
    nickname: str = "Alice",
    password: str = PASSWORD,
) -> dict[str, Any]:
    """Register through the public endpoint and return its 200 body."""
    response = await client.post(
        "/mychat/api/auth/register",
        json={"login": login, "password": password, "nickname": nickname},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
