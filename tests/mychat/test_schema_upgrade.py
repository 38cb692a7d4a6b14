"""An embedded SQLite file from before account deletion gains `users.deleted_at` at start."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import text

from auth_service.app import create_app
from mychat.db import create_engine
from mychat.settings import Settings
from mychat.tables import create_schema
from tests.support.people import FAST_HASHES, PASSWORD

OLD_USERS = """
CREATE TABLE users (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    login VARCHAR(64) NOT NULL UNIQUE,
    nickname VARCHAR(32) NOT NULL,
    nickname_key VARCHAR(96) NOT NULL UNIQUE,
    password_hash VARCHAR(255) NOT NULL,
    created_at DATETIME NOT NULL
)
"""


async def columns(settings: Settings) -> set[str]:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("PRAGMA table_info(users)"))
            return {row[1] for row in rows}
    finally:
        await engine.dispose()


async def test_an_old_sqlite_file_gets_the_new_columns(
    tmp_path: Path, sqlite_settings: Settings
) -> None:
    engine = create_engine(sqlite_settings)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(OLD_USERS))
        assert "deleted_at" not in await columns(sqlite_settings)
        await create_schema(engine)
        await create_schema(engine)  # and again: nothing left to add
    finally:
        await engine.dispose()
    assert "deleted_at" in await columns(sqlite_settings)
    app = create_app(sqlite_settings, embedded=True, hash_parameters=FAST_HASHES)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
    ):
        body = {"login": "alice", "password": PASSWORD, "nickname": "Alice"}
        assert (await client.post("/mychat/api/auth/register", json=body)).status_code == 200
