"""The built web app in Chromium, served by nginx with its CSP, talking to two gateways."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, async_playwright, expect

from tests.support import ui
from tests.support.browser import CHROMIUM_ARGS, WEB_DIST, find_chromium
from tests.support.env import require
from tests.support.redis import PrivateRedis
from tests.topology.conftest import start_stack, stop_stack

pytestmark = [
    pytest.mark.topology,
    pytest.mark.browser,
    pytest.mark.mariadb,
    pytest.mark.redis,
]


async def test_two_people_chat_through_nginx(tmp_path: Path, private_redis: PrivateRedis) -> None:
    chromium = find_chromium()
    require(chromium is not None, "Chromium not found; install Debian's `chromium` package")
    assert chromium is not None
    require((WEB_DIST / "index.html").is_file(), "web/dist is not built; run `make web`")
    stack, database = await asyncio.to_thread(start_stack, tmp_path, private_redis.url, WEB_DIST)
    console_errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium), args=CHROMIUM_ARGS
            )
            pages = []
            for _ in range(2):
                context = await browser.new_context(locale="en-US")
                page = await context.new_page()
                page.set_default_timeout(10_000)
                page.on("console", record)
                pages.append(page)
            alice, bob = pages
            await ui.two_in_a_chat(alice, bob, stack.url, "Through nginx")
            await ui.send(alice, "Hello over two gateways")
            await expect(
                bob.get_by_test_id("message-text").filter(has_text="over two gateways")
            ).to_be_visible()
            await ui.send(bob, "Got it")
            await expect(
                alice.get_by_test_id("message-text").filter(has_text="Got it")
            ).to_be_visible()
            await browser.close()
        # Both gateways served the pages: their requests or their sockets. nginx balances by
        # least connections, so which gateway gets which depends on the moment: with both
        # sockets' upgrades on one gateway, every HTTP request can go to the other.
        log = (stack.nginx_conf_path.parent / "access.log").read_text()
        served = r'"(?:POST|GET) /mychat/graphql HTTP/1.1" (?:200|101) \d+ \S+ (\S+)'
        assert len(set(re.findall(served, log))) == 2, log
        assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
    finally:
        await asyncio.to_thread(stop_stack, stack, database)
