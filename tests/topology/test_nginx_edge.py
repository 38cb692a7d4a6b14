"""nginx.conf, rendered exactly as `mychat stack` renders it, in front of stub upstreams."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from assembly.stack import NGINX_MARKER, StackError, nginx_command, render_nginx_conf
from mychat.pages import CONTENT_SECURITY_POLICY, GRAPHIQL_CONTENT_SECURITY_POLICY
from tests.topology.nginx_stubs import (
    ASSET_JS,
    ASSET_NAME,
    INDEX_HTML,
    NGINX_CONF,
    EdgeUnderTest,
    edge_on_stubs,
    render_for_test,
    require_nginx,
)

pytestmark = pytest.mark.topology

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[EdgeUnderTest]:
    async with edge_on_stubs(tmp_path) as running:
        yield running


@pytest.fixture
async def client(edge: EdgeUnderTest) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge.url, timeout=10) as http:
        yield http


def test_the_rendered_configuration_passes_nginx_t(tmp_path: Path) -> None:
    require_nginx()
    prefix, conf, _ports = render_for_test(tmp_path, gateways=3)
    result = subprocess.run(
        nginx_command(prefix, conf, "-t"), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_rendering_replaces_only_the_marked_lines(tmp_path: Path) -> None:
    template = NGINX_CONF.read_text().splitlines()
    _prefix, conf, ports = render_for_test(tmp_path)
    rendered = conf.read_text()
    unmarked = [line for line in template if not NGINX_MARKER.match(line)]
    assert [line for line in rendered.splitlines() if line in unmarked] == unmarked
    assert not [line for line in rendered.splitlines() if NGINX_MARKER.match(line)]
    assert f"server 127.0.0.1:{ports['gateway-2']} max_fails=1 fail_timeout=5s;" in rendered
    # As written, the file is the compose configuration.
    for upstream in ("server auth:8001;", "server chat:8002;", "server gateway:8000 "):
        assert upstream in "\n".join(template)


def test_a_marker_without_value_or_a_value_without_marker_is_refused() -> None:
    with pytest.raises(StackError, match="has no value"):
        render_nginx_conf("listen 80;  # stack:listen\n", {})
    with pytest.raises(StackError, match="lacks the markers"):
        render_nginx_conf("listen 80;\n", {"listen": ["listen 81;"]})


async def test_routes_reach_their_services_with_forwarding_headers(
    client: httpx.AsyncClient,
) -> None:
    cases = {
        "/mychat/api/auth/login": "auth",
        "/mychat/api/auth/verify": "auth",
        "/mychat/api/openapi.json": "auth",
        "/mychat/api/chat/": "chat",
        "/mychat/api/chat/12/message": "chat",
    }
    for path, upstream in cases.items():
        response = await client.post(
            path, json={"text": "hi"}, headers={"X-Forwarded-For": "6.6.6.6"}
        )
        assert response.status_code == 200, path
        seen: dict[str, Any] = response.json()
        assert (seen["upstream"], seen["path"]) == (upstream, path)
        assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"  # the client cannot spoof it
        assert seen["headers"]["x-forwarded-proto"] == "http"
        assert seen["headers"]["host"] == client.base_url.netloc.decode()
        assert seen["headers"]["x-request-id"]


async def test_graphql_is_spread_over_the_gateways(client: httpx.AsyncClient) -> None:
    upstreams = set()
    for _ in range(6):
        response = await client.post("/mychat/graphql?x=1", json={"query": "{ __typename }"})
        assert response.status_code == 200
        upstreams.add(response.json()["upstream"])
        assert response.json()["query"] == "x=1"
    assert upstreams == {"gateway-1", "gateway-2"}


async def test_graphql_websocket_upgrade_passes_through(edge: EdgeUnderTest) -> None:
    url = edge.url.replace("http://", "ws://") + "/mychat/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]  # websockets types Subprotocol as a NewType of str
        assert socket.subprotocol == "graphql-transport-ws"
        await socket.send("ping")
        assert str(await socket.recv()).endswith(":ping")


async def raw_request(url: str, path: str) -> tuple[int, bytes]:
    """Send a path byte for byte (clients normalise `..`; attackers do not)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    status = int(response.split(b" ", 2)[1])
    return status, response.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize(
    "path",
    [
        "/internal/users?ids=1",
        "/mychat/api/auth/../../../internal/users",
        "/mychat/api/auth/%2e%2e/%2e%2e/%2e%2e/internal/users",
        "/mychat/api/chat/..%2F..%2F..%2Finternal/chats",
        "/mychat/api/chat/%2E%2E%2F%2E%2E%2F%2E%2E%2Finternal/chats",
    ],
)
async def test_the_internal_api_is_never_routed(edge: EdgeUnderTest, path: str) -> None:
    status, body = await raw_request(edge.url, path)
    if status == 200:  # reached a service: only ever inside the public prefix
        assert b'"path":"/mychat/api/' in body.replace(b" ", b"")
    else:
        assert status in (400, 404)
    assert b'"path":"/internal' not in body.replace(b" ", b"")


async def test_unknown_api_paths_are_404_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/mychat/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_a_body_over_64k_is_413_json(client: httpx.AsyncClient) -> None:
    small = await client.post("/mychat/api/chat/1/message", content=b"x" * (60 * 1024))
    assert small.status_code == 200
    assert small.json()["body_bytes"] == 60 * 1024
    for path in ("/mychat/api/chat/1/message", "/mychat/graphql", "/mychat/api/auth/register"):
        response = await client.post(path, content=b"x" * (65 * 1024))
        assert response.status_code == 413, path
        assert response.json()["code"] == "payload_too_large"


async def test_login_and_register_answer_429_after_the_burst(client: httpx.AsyncClient) -> None:
    statuses = [
        (await client.post(path, json={"login": "a", "password": "b"})).status_code
        for path in ["/mychat/api/auth/login", "/mychat/api/auth/register"] * 8
    ]
    assert statuses[:10] == [200] * 10  # the burst
    assert set(statuses[11:]) == {429}
    limited = await client.post("/mychat/api/auth/login", json={})
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    for header, value in SECURITY_HEADERS.items():
        assert limited.headers[header] == value
    # The looser API zone is untouched by it.
    assert (await client.get("/mychat/api/chat/")).status_code == 200


async def test_security_headers_and_no_version(client: httpx.AsyncClient) -> None:
    for path in ("/", "/mychat/api/chat/", "/mychat/nothing", "/healthz"):
        response = await client.get(path)
        assert response.headers["server"] == "nginx", path
        for header, value in SECURITY_HEADERS.items():
            assert response.headers[header] == value, (path, header)
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "connect-src 'self' ws: wss:" in csp
        assert csp == CONTENT_SECURITY_POLICY  # the same as `mychat serve`
    # GraphiQL, served by a gateway, gets its policy once (nginx's, equal to the gateway's).
    graphiql = await client.get("/mychat/graphql", headers={"Accept": "text/html"})
    assert graphiql.headers.get_list("content-security-policy") == [
        GRAPHIQL_CONTENT_SECURITY_POLICY
    ]
    assert graphiql.headers.get_list("x-frame-options") == ["DENY"]


async def test_the_web_app_is_served_with_spa_fallback_and_caching(
    client: httpx.AsyncClient,
) -> None:
    index = await client.get("/")
    assert index.text == INDEX_HTML
    assert index.headers["cache-control"] == "no-cache"
    deep_link = await client.get("/chats/42")
    assert (deep_link.status_code, deep_link.text) == (200, INDEX_HTML)
    asset = await client.get(f"/assets/{ASSET_NAME}", headers={"Accept-Encoding": "gzip"})
    assert asset.status_code == 200
    assert asset.headers["content-encoding"] == "gzip"
    assert asset.text == ASSET_JS
    assert asset.headers["cache-control"] == "max-age=31536000"
    missing = await client.get("/assets/missing-0000.js")
    assert missing.status_code == 404


async def test_healthz_answers_without_upstreams(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def _directives(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split("#")[0].strip().rstrip(";").split(None, 1)
        if len(words) == 2:
            found.setdefault(words[0], words[1])
    return found


def test_nginx_caps_header_time_size_and_connections_per_address() -> None:
    """What `mychat serve` does itself when exposed (mychat/serve_guard.py), nginx does at
    the edge of the topology: the configuration says so."""
    directives = _directives(NGINX_CONF.read_text())
    assert directives["client_header_timeout"] == "10s"
    count, size = directives["large_client_header_buffers"].split()
    assert int(count) * int(size.rstrip("k")) <= 32  # KiB of headers at most
    assert directives["limit_conn_zone"].startswith("$binary_remote_addr zone=mychat_connections")
    assert directives["limit_conn"] == "mychat_connections 128"
    assert directives["limit_conn_status"] == "429"


async def test_nginx_refuses_huge_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"x-big": "a" * 40_000})
    assert response.status_code == 400
    assert (await client.get("/healthz")).status_code == 200
