"""nginx.conf rendered by the stack code, in front of stub upstreams that report what they got.

Tests of the edge itself (routing, limits, headers) need no real services: each upstream is a tiny
ASGI app on a real socket that answers with the request it received.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from assembly.stack import (
    check_nginx_conf,
    local_nginx_values,
    nginx_command,
    render_nginx_conf,
)
from mychat.pages import GRAPHIQL_SECURITY_HEADERS
from tests.support.env import ROOT, require
from tests.support.ports import free_port, serving, wait_for_port

NGINX_CONF = ROOT / "nginx.conf"

INDEX_HTML = "<!doctype html><title>MyChat</title><div id=app></div>"
ASSET_NAME = "index-3f9a1c2b.js"
ASSET_JS = "console.log('mychat');\n" * 200  # big enough to be gzipped


def require_nginx() -> None:
    installed = shutil.which("nginx") is not None or Path("/usr/sbin/nginx").exists()
    require(installed, "nginx is not installed; `apt-get install nginx` to run this test")


def stub_app(name: str) -> Starlette:
    async def echo(request: Request) -> Response:
        body = await request.body()
        # A gateway sends the page headers with GraphiQL, as gateway/view.py does.
        page = name.startswith("gateway") and "text/html" in request.headers.get("accept", "")
        return JSONResponse(
            headers=GRAPHIQL_SECURITY_HEADERS if page else None,
            content={
                "upstream": name,
                "method": request.method,
                "path": request.url.path,
                "raw_path": request.scope["raw_path"].decode(),
                "query": request.url.query,
                "headers": dict(request.headers),
                "body_bytes": len(body),
            },
        )

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol="graphql-transport-ws")
        async for message in websocket.iter_text():
            await websocket.send_text(f"{name}:{message}")

    return Starlette(
        routes=[
            WebSocketRoute("/mychat/graphql", socket),
            Route("/{path:path}", echo, methods=["GET", "POST"]),
        ]
    )


@asynccontextmanager
async def serve_stubs(ports: dict[str, int]) -> AsyncIterator[None]:
    """One stub upstream per (name, port), started and stopped together."""
    async with AsyncExitStack() as stack:
        for name, port in ports.items():
            await stack.enter_async_context(serving(stub_app(name), port, lifespan="off"))
        yield


@dataclass
class EdgeUnderTest:
    url: str
    prefix: Path
    conf: Path


def write_web_root(root: Path) -> None:
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX_HTML)
    (root / "assets" / ASSET_NAME).write_text(ASSET_JS)


def render_for_test(tmp_path: Path, *, gateways: int = 2) -> tuple[Path, Path, dict[str, int]]:
    """Render nginx.conf as the stack does; return (prefix, conf, ports)."""
    prefix = tmp_path / "nginx"
    (prefix / "temp").mkdir(parents=True)
    web_root = tmp_path / "web"
    write_web_root(web_root)
    ports = {"nginx": free_port(), "auth": free_port(), "chat": free_port()}
    for i in range(1, gateways + 1):
        ports[f"gateway-{i}"] = free_port()
    values = local_nginx_values(
        prefix,
        port=ports["nginx"],
        auth_port=ports["auth"],
        chat_port=ports["chat"],
        gateway_ports=[ports[f"gateway-{i}"] for i in range(1, gateways + 1)],
        web_root=web_root,
    )
    conf = prefix / "nginx.conf"
    conf.write_text(render_nginx_conf(NGINX_CONF.read_text(), values))
    return prefix, conf, ports


@asynccontextmanager
async def edge_on_stubs(tmp_path: Path) -> AsyncIterator[EdgeUnderTest]:
    """nginx with the repository's configuration in front of stub auth, chat and 2 gateways."""
    require_nginx()
    prefix, conf, ports = render_for_test(tmp_path)
    check_nginx_conf(prefix, conf)
    async with AsyncExitStack() as stack:
        upstreams = {name: port for name, port in ports.items() if name != "nginx"}
        await stack.enter_async_context(serve_stubs(upstreams))
        process = subprocess.Popen(
            nginx_command(prefix, conf, "-g", "daemon off;"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(process.wait, 10)
        stack.callback(process.terminate)
        await wait_for_port(ports["nginx"])
        yield EdgeUnderTest(f"http://127.0.0.1:{ports['nginx']}", prefix, conf)
