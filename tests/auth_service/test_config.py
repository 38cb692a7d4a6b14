"""The signing secret: too short refuses to start; embedded mode makes one and keeps it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from auth_service.app import create_app
from mychat.settings import ConfigurationError, Settings
from tests.support.people import register


def test_a_short_jwt_secret_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        create_app(Settings(data_dir=tmp_path, jwt_secret="short"))
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        create_app(Settings(data_dir=tmp_path, jwt_secret="x" * 31), embedded=True)


def test_a_missing_jwt_secret_refuses_to_start_alone(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="JWT_SECRET is required"):
        create_app(Settings(data_dir=tmp_path))


async def test_embedded_mode_generates_and_keeps_a_secret(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, login_rate_per_minute=1000)
    app = create_app(settings, embedded=True)
    secret_file = tmp_path / "jwt_secret"
    secret = secret_file.read_text()
    assert len(secret.encode()) >= 32
    assert secret_file.stat().st_mode & 0o077 == 0
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
    ):
        token = (await register(client))["token"]

    # A restart reads the same secret: tokens issued before it stay valid.
    again = create_app(settings, embedded=True)
    assert secret_file.read_text() == secret
    async with (
        again.router.lifespan_context(again),
        httpx.AsyncClient(transport=httpx.ASGITransport(again), base_url="http://t") as client,
    ):
        response = await client.post("/mychat/api/auth/verify", json={"token": token})
        assert response.json()["valid"] is True
