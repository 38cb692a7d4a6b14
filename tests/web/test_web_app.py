"""assembly.web: the built page with its cache and security headers, SPA fallback, and a clear 503
while the page is not built (the API keeps working)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.middleware.gzip import GZipMiddleware

from assembly.embedded import create_embedded_app
from assembly.web import IMMUTABLE, WebApp, create_web_app
from mychat.pages import CONTENT_SECURITY_POLICY, REPO_WEB_DIST
from mychat.settings import Settings

INDEX = "<!doctype html><title>MyChat</title><script type=module src=/assets/app-1a2b.js></script>"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    folder = tmp_path / "dist"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text(INDEX)
    (folder / "assets" / "app-1a2b.js").write_text("console.log('hi')")
    (folder / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("outside the build")
    return folder


def client_for(dist: Path) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(WebApp(dist)), base_url="http://test")


async def test_index_has_the_csp_and_no_cache(dist: Path) -> None:
    async with client_for(dist) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "style-src 'self'" in CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY  # default-src 'self': no inline scripts
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/chat/Q2hhdDox", "/some/deep/link", "/index.html"])
async def test_client_routes_get_the_index(dist: Path, path: str) -> None:
    async with client_for(dist) as client:
        response = await client.get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_cached_for_a_year(dist: Path) -> None:
    async with client_for(dist) as client:
        response = await client.get("/assets/app-1a2b.js")
        favicon = await client.get("/favicon.svg")
    assert response.status_code == 200
    assert response.text == "console.log('hi')"
    assert response.headers["cache-control"] == IMMUTABLE
    assert "javascript" in response.headers["content-type"]
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert favicon.status_code == 200
    assert favicon.headers["cache-control"] != IMMUTABLE


async def test_a_missing_asset_is_404_not_the_index(dist: Path) -> None:
    async with client_for(dist) as client:
        response = await client.get("/assets/gone-0000.js")
    assert response.status_code == 404
    assert INDEX not in response.text


@pytest.mark.parametrize(
    "path", ["/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"]
)
async def test_nothing_outside_the_build_is_served(dist: Path, path: str) -> None:
    async with client_for(dist) as client:
        response = await client.get(path)
    assert "outside the build" not in response.text
    assert response.status_code in (200, 404)


async def test_head_answers_without_a_body(dist: Path) -> None:
    async with client_for(dist) as client:
        response = await client.head("/")
    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_other_methods_are_refused(dist: Path, method: str) -> None:
    async with client_for(dist) as client:
        response = await client.request(method, "/")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


async def test_unbuilt_page_says_how_to_build_it(tmp_path: Path) -> None:
    async with client_for(tmp_path / "no-dist") as client:
        response = await client.get("/")
        deep = await client.get("/chat/1")
    assert response.status_code == 503
    assert response.text.strip() == "web app not built: run `make install`"
    assert deep.status_code == 503


async def test_settings_choose_the_folder_and_assets_are_compressed(
    tmp_path: Path, dist: Path
) -> None:
    (dist / "assets" / "big-9f8e.js").write_text("const greeting = 'hello';\n" * 200)
    app = create_web_app(Settings(data_dir=tmp_path, web_dist=dist))
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/assets/big-9f8e.js", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.text.startswith("const greeting")  # httpx decodes it
    assert response.headers["cache-control"] == IMMUTABLE
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_the_repo_build_is_the_default(tmp_path: Path) -> None:
    app = create_web_app(Settings(data_dir=tmp_path))
    assert isinstance(app, GZipMiddleware)
    assert isinstance(app.app, WebApp)
    assert app.app.dist == REPO_WEB_DIST.resolve()
    assert REPO_WEB_DIST.parts[-2:] == ("web", "dist")


async def test_embedded_api_works_while_the_page_is_not_built(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, jwt_secret="w" * 40, web_dist=tmp_path / "missing-dist")
    app = create_embedded_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
    ):
        page = await client.get("/")
        api = await client.post("/mychat/graphql", json={"query": "{ me { id } }"})
    assert page.status_code == 503
    assert "make install" in page.text
    assert api.status_code == 200
    assert api.json() == {"data": {"me": None}}
