"""Embedded mode's SQLite: the same register and login work."""

from __future__ import annotations

import asyncio

import httpx

from auth_service.app import create_app
from mychat.settings import Settings
from tests.support.people import PASSWORD, register


async def test_register_and_login_on_sqlite(sqlite_settings: Settings) -> None:
    app = create_app(sqlite_settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
    ):
        registered = await register(client, nickname="Алиса")
        response = await client.post(
            "/mychat/api/auth/login", json={"login": "Alice", "password": PASSWORD}
        )
        assert response.status_code == 200
        assert response.json()["user"] == registered["user"]

        duplicate = await client.post(
            "/mychat/api/auth/register",
            json={"login": "bob", "password": PASSWORD, "nickname": "алиса"},
        )
        assert duplicate.status_code == 409
        assert duplicate.json()["field"] == "nickname"

        racing = await asyncio.gather(
            *(
                client.post(
                    "/mychat/api/auth/register",
                    json={"login": "carol", "password": PASSWORD, "nickname": f"Carol {n}"},
                )
                for n in range(2)
            )
        )
        assert sorted(r.status_code for r in racing) == [200, 409]
