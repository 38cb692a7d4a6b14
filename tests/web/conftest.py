"""Browser-test fixtures: `mychat serve` on a free port, Debian's Chromium through Playwright,
a GraphQL client for setting up data fast, and a screenshot of every page when a test fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    Error,
    Page,
    WebSocket,
    async_playwright,
)

from tests.support.browser import ARTIFACTS, CHROMIUM_ARGS, WEB_DIST, find_chromium
from tests.support.clients import graphql
from tests.support.env import ROOT, TEST_JWT_SECRET, require
from tests.support.people import PASSWORD
from tests.support.ports import free_port


class ServerProcess:
    """`mychat serve` (embedded: SQLite, memory broker) as a child process; can be restarted on
    the same port and data folder to cut every WebSocket."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = data_dir / "server.log"
        self.jwt_secret = TEST_JWT_SECRET
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "JWT_SECRET": self.jwt_secret,
            "MYCHAT_LOGIN_RATE_PER_MINUTE": "10000",
            "MYCHAT_SEND_RATE_PER_MINUTE": "100000",
            # Tests set up dozens of chats for one person within seconds.
            "MYCHAT_CHAT_CREATE_RATE_PER_MINUTE": "10000",
            "MYCHAT_MEMBER_ADD_RATE_PER_MINUTE": "10000",
            "MYCHAT_LOG_LEVEL": "warning",
        }
        env.pop("DATABASE_URL", None)
        env.pop("MYSQL_HOST", None)
        env.pop("REDIS_URL", None)
        command = [sys.executable, "-m", "assembly.cli", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--data-dir", str(self.data_dir)]
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        # Generous: on a loaded machine (tests in parallel) the imports alone took over 30 s.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mychat serve exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.base_url + "/", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"mychat serve did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    path = find_chromium()
    require(
        path is not None,
        "Chromium not found (MYCHAT_CHROMIUM or /usr/bin/chromium); "
        "install Debian's `chromium` package to run the browser tests",
    )
    assert path is not None
    return path


@pytest.fixture(scope="module")
def web_dist() -> Path:
    require(
        (WEB_DIST / "index.html").is_file(),
        "web/dist is not built; run `make install` (npm ci && npm run build in web/)",
    )
    return WEB_DIST


def _start_server(tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:
    server = ServerProcess(tmp_path_factory.mktemp("mychat-browser"), free_port())
    server.start()
    return server


@pytest.fixture(scope="module")
def server(
    web_dist: Path, chromium_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One server shared by the tests of a module (each test registers its own users)."""
    process = _start_server(tmp_path_factory)
    yield process
    process.stop()


@pytest.fixture
def own_server(
    web_dist: Path, chromium_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server for one test that restarts it."""
    process = _start_server(tmp_path_factory)
    yield process
    process.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED_KEY] = report.failed
    return report


FAILED_KEY = pytest.StashKey[bool]()


def _log_socket(socket: WebSocket, log: list[str]) -> None:
    def stamp(text: str) -> None:
        log.append(f"{time.strftime('%H:%M:%S')} {text}")

    stamp(f"ws open {socket.url}")
    socket.on("framereceived", lambda frame: stamp(f"ws < {frame!r:.400}"))
    socket.on("framesent", lambda frame: stamp(f"ws > {frame!r:.200}"))
    socket.on("close", lambda _socket: stamp("ws closed"))


class Browsers:
    """Opens isolated browser contexts (one per user) and remembers their pages."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.pages: list[Page] = []
        self.page_errors: list[str] = []
        self.logs: list[list[str]] = []

    async def new_page(self, *, width: int = 1280, height: int = 800) -> Page:
        context = await self.browser.new_context(
            viewport={"width": width, "height": height}, locale="en-US"
        )
        self.contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(10_000)
        # Kept for the failure artifacts: what the page logged and said on its socket.
        log: list[str] = []
        self.logs.append(log)
        page.on("console", lambda message: log.append(f"console {message.type}: {message.text}"))

        def on_page_error(error: Error) -> None:
            self.page_errors.append(str(error))
            log.append(f"page error: {error.stack or error}")

        page.on("pageerror", on_page_error)
        page.on("websocket", lambda socket: _log_socket(socket, log))
        self.pages.append(page)
        return page


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium(chromium_path: Path) -> AsyncIterator[Browser]:
    """One Chromium for every browser test of the session (starting Playwright's driver and the
    browser took ~4 s a test); each test gets browser contexts of its own (see Browsers)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The shared Chromium belongs to the session's event loop: its tests run in that loop.
    for item in items:
        if "browsers" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


@pytest_asyncio.fixture(loop_scope="session")
async def browsers(chromium: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Browsers]:
    """New, isolated browser contexts for this test (cookies, storage, permissions, routes and
    offline mode are a context's), closed after it."""
    opened = Browsers(chromium)
    try:
        yield opened
    finally:
        if request.node.stash.get(FAILED_KEY, False):
            ARTIFACTS.mkdir(exist_ok=True)
            for number, page in enumerate(opened.pages, start=1):
                if not page.is_closed():
                    path = ARTIFACTS / f"{request.node.name}-page{number}.png"
                    await page.screenshot(path=str(path), full_page=True)
            for number, log in enumerate(opened.logs, start=1):
                path = ARTIFACTS / f"{request.node.name}-page{number}.log"
                path.write_text("\n".join(log) + "\n")
        for context in opened.contexts:
            await context.close()


class Api:
    """GraphQL over HTTP for setting up data quickly (not through the UI)."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=30)

    async def call(self, query: str, token: str | None = None, **variables: Any) -> Any:
        return await graphql(self.client, query, variables, token)

    async def register(self, login: str, nickname: str) -> str:
        data = await self.call(
            "mutation($l: String!, $p: String!, $n: String!) {"
            " register(login: $l, password: $p, nickname: $n) {"
            " __typename ... on AuthPayload { token } } }",
            l=login,
            p=PASSWORD,
            n=nickname,
        )
        assert data["register"]["__typename"] == "AuthPayload", data
        token: str = data["register"]["token"]
        return token

    async def create_chat(self, token: str, name: str) -> str:
        data = await self.call(
            "mutation($n: String!) { createChat(name: $n) {"
            " __typename ... on CreateChatPayload { chat { id } } } }",
            token,
            n=name,
        )
        chat_id: str = data["createChat"]["chat"]["id"]
        return chat_id

    async def send(self, token: str, chat_id: str, text: str) -> None:
        data = await self.call(
            "mutation($c: ID!, $t: String!) { sendMessage(chatId: $c, text: $t) { __typename } }",
            token,
            c=chat_id,
            t=text,
        )
        assert data["sendMessage"]["__typename"] == "SendMessagePayload", data

    async def close(self) -> None:
        await self.client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def api(server: ServerProcess) -> AsyncIterator[Api]:
    client = Api(server.base_url)
    yield client
    await client.close()
