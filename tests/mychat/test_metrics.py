"""A service's metrics: off unless a port is set; then served there, by route template."""

from __future__ import annotations

import httpx

from auth_service.app import create_app
from mychat.settings import Settings
from tests.support.clients import asgi_client
from tests.support.ports import free_port


async def test_no_metrics_port_means_no_metrics(sqlite_settings: Settings) -> None:
    app = create_app(sqlite_settings)
    assert app.state.metrics is None


async def test_metrics_are_served_on_their_own_port_by_route_template(
    sqlite_settings: Settings,
) -> None:
    port = free_port()
    settings = sqlite_settings.model_copy(update={"metrics_port": port})
    app = create_app(settings)
    async with app.router.lifespan_context(app), asgi_client(app) as client:
        for nickname in ("Ann", "Ben"):
            body = {"login": nickname.lower(), "password": "long enough pw", "nickname": nickname}
            assert (await client.post("/mychat/api/auth/register", json=body)).status_code == 200
        wrong = {"login": "ann", "password": "not the password"}
        assert (await client.post("/mychat/api/auth/login", json=wrong)).status_code == 400
        # The app itself has no /metrics: only the separate port serves them.
        assert (await client.get("/metrics")).status_code == 404
        async with httpx.AsyncClient() as scraper:
            text = (await scraper.get(f"http://127.0.0.1:{port}/metrics")).text
    assert (
        'mychat_http_requests_total{method="POST",route="/mychat/api/auth/register",status="200"}'
        " 2.0" in text
    )
    assert (
        'mychat_http_request_duration_seconds_count{method="POST",'
        'route="/mychat/api/auth/register"} 2.0' in text
    )
    assert "mychat_login_failures_total 1.0" in text
    assert 'mychat_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'mychat_db_pool_size{pool="main"}' in text
