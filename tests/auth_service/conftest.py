"""An auth app on the test's database, its lifespan entered, and an in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from auth_service.app import create_app
from mychat.settings import Settings


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
