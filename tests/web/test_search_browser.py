"""Message search in the web app: matched words marked, a result opens its chat, English and
Russian, and nothing from a chat the searcher is not in."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.support import ui
from tests.support.people import unique
from tests.web.conftest import Browsers, ServerProcess

pytestmark = pytest.mark.browser


async def test_search_marks_the_words_and_opens_the_chat(
    server: ServerProcess, browsers: Browsers
) -> None:
    alice = await browsers.new_page()
    bob = await browsers.new_page()
    alice_nick, bob_nick = unique("Alice"), unique("Bob")
    await ui.register(alice, server.base_url, alice_nick)
    await ui.register(bob, server.base_url, bob_nick)
    chat_name = unique("Lunch ")
    await ui.create_chat(alice, chat_name)
    await ui.add_member(alice, bob_nick)
    await ui.send(alice, "Pizza at noon?")
    await ui.send(alice, "Something else entirely")
    await ui.send(alice, "The pizzeria <b>opens</b> at 11")
    secret = unique("Secret ")
    await ui.create_chat(alice, secret)  # Bob is not in this one
    await ui.send(alice, "pizza for Alice alone")

    await bob.goto(server.base_url + "/#/search")
    await bob.get_by_test_id("search-input").fill("PIZZ")
    await bob.get_by_test_id("search-input").press("Enter")
    texts = bob.get_by_test_id("search-text")
    await expect(texts).to_have_count(2)
    # Newest first, markup shown as text, the matched words marked.
    await expect(texts.nth(0)).to_have_text("The pizzeria <b>opens</b> at 11")
    await expect(texts.nth(0).locator("mark")).to_have_text(["pizzeria"])
    await expect(texts.nth(1).locator("mark")).to_have_text(["Pizza"])
    await expect(bob.get_by_test_id("search-result").nth(1)).to_contain_text(chat_name)

    await bob.get_by_test_id("search-input").fill("nothingmatcheshere")
    await bob.get_by_test_id("search-input").press("Enter")
    await expect(bob.get_by_role("status").filter(has_text="No messages match")).to_be_visible()

    # In Russian.
    await bob.get_by_test_id("language").select_option("ru")
    await expect(bob.get_by_role("heading", name="Поиск сообщений")).to_be_visible()
    await bob.get_by_test_id("search-input").fill("pizza")
    await bob.get_by_test_id("search-input").press("Enter")
    await expect(bob.get_by_test_id("search-result")).to_have_count(1)
    await expect(bob.get_by_test_id("search-result")).to_contain_text(f"в чате {chat_name}")

    # A result opens its chat.
    await bob.get_by_test_id("search-result").first.locator("a").click()
    await expect(bob.get_by_test_id("chat-title")).to_have_text(chat_name)
    assert browsers.page_errors == []
