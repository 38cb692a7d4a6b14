"""An auth app on the test's database, its lifespan entered, and an in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from auth_service.app import create_app
from mychat.settings import Settings
from tests.support.clients import asgi_client


@pytest.fixture
async def auth_app(settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(auth_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(auth_app) as client:
        yield client
