"""Two browsers through nginx and two gateways: presence, typing and read receipts live, and the
account screen's sign-out-everywhere ending the other browser's session at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, async_playwright, expect

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


def presence_of(page: Page, nickname: str) -> Locator:
    member = page.get_by_test_id("member").filter(has_text=nickname)
    return member.get_by_test_id("presence")


async def test_presence_typing_and_receipts_between_two_browsers(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    chromium = find_chromium()
    require(chromium is not None, "Chromium not found; install Debian's `chromium` package")
    assert chromium is not None
    require((WEB_DIST / "index.html").is_file(), "web/dist is not built; run `make web`")
    stack, database = await asyncio.to_thread(start_stack, tmp_path, private_redis.url, WEB_DIST)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium), args=CHROMIUM_ARGS
            )
            contexts = [await browser.new_context(locale="en-US") for _ in range(2)]
            alice, bob = [await context.new_page() for context in contexts]
            for page in (alice, bob):
                page.set_default_timeout(15_000)
            alice_nick, bob_nick = await ui.two_in_a_chat(alice, bob, stack.url, "Signals")

            # Presence: both are online, each sees the other so.
            await expect(presence_of(alice, bob_nick)).to_have_attribute("data-online", "yes")
            await expect(presence_of(bob, alice_nick)).to_have_attribute("data-online", "yes")

            # Typing: Bob types, Alice sees it; sending clears it.
            await bob.get_by_test_id("composer").fill("typing something")
            await expect(alice.get_by_test_id("typing")).to_have_text(f"{bob_nick} is typing…")
            await bob.get_by_test_id("composer").press("Enter")
            await expect(alice.get_by_test_id("typing")).to_have_text("")

            # Receipts: Alice's message, read by Bob with the chat open.
            await ui.send(alice, "Did you read this?")
            await expect(alice.get_by_test_id("seen-by")).to_have_text(f"Seen by {bob_nick}")

            # Bob closes his browser: offline (with a last-seen time) after a few seconds.
            await contexts[1].close()
            await expect(presence_of(alice, bob_nick)).to_have_attribute(
                "data-online", "no", timeout=20_000
            )
            await expect(presence_of(alice, bob_nick)).to_contain_text("last seen")

            # Accounts: a second browser of Alice's, then "sign out everywhere" from the first.
            other = await (await browser.new_context(locale="en-US")).new_page()
            await ui.sign_in(other, stack.url, alice_nick.lower())
            await alice.get_by_test_id("account-link").click()
            await expect(alice.get_by_test_id("session")).to_have_count(2)
            await alice.get_by_test_id("sign-out-everywhere").click()
            for page in (alice, other):
                await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
            await browser.close()
    finally:
        await asyncio.to_thread(stop_stack, stack, database)
