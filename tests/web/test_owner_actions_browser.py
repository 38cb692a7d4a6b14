"""Owner actions and direct chats in the web app, live between three people."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.support import ui
from tests.support.people import unique
from tests.web.conftest import Browsers, ServerProcess

pytestmark = pytest.mark.browser


async def test_rename_remove_hand_on_and_direct_chats(
    server: ServerProcess, browsers: Browsers
) -> None:
    alice, bob, carol = [await browsers.new_page() for _ in range(3)]
    alice_nick, bob_nick, carol_nick = unique("Alice"), unique("Bob"), unique("Carol")
    for page, nickname in ((alice, alice_nick), (bob, bob_nick), (carol, carol_nick)):
        await ui.register(page, server.base_url, nickname)
    chat_name = unique("Team ")
    await ui.create_chat(alice, chat_name)
    await ui.add_member(alice, bob_nick)
    # The first add's answer clears the field: wait for it, or it may clear the second name.
    await expect(alice.get_by_test_id("add-member-nickname")).to_have_value("")
    await ui.add_member(alice, carol_nick)
    await ui.open_chat(bob, chat_name)
    await ui.open_chat(carol, chat_name)
    # Only the owner sees the owner's controls.
    await expect(bob.get_by_test_id("rename-form")).to_be_hidden()
    await expect(bob.get_by_test_id("member-remove")).to_have_count(0)

    new_name = unique("Garden ")
    await alice.get_by_test_id("rename-input").fill(new_name)
    await alice.get_by_test_id("rename-input").press("Enter")
    await expect(bob.get_by_test_id("chat-title")).to_have_text(new_name)
    await expect(
        bob.get_by_test_id("system-note").filter(has_text=f"renamed the chat to “{new_name}”")
    ).to_be_visible()

    carol_row = alice.get_by_test_id("member").filter(has_text=carol_nick)
    await carol_row.get_by_test_id("member-remove").click()
    await expect(carol.get_by_test_id("chat-link").filter(has_text=new_name)).to_have_count(0)
    await expect(
        bob.get_by_test_id("system-note").filter(has_text=f"removed {carol_nick}")
    ).to_be_visible()
    await expect(bob.get_by_test_id("member-name").filter(has_text=carol_nick)).to_have_count(0)

    bob_row = alice.get_by_test_id("member").filter(has_text=bob_nick)
    await bob_row.get_by_test_id("member-make-owner").click()
    await expect(bob.get_by_test_id("rename-form")).to_be_visible()
    await expect(alice.get_by_test_id("rename-form")).to_be_hidden()

    # A direct chat: named after the other person on each side.
    await carol.get_by_test_id("direct-chat-nickname").fill(bob_nick)
    await carol.get_by_test_id("direct-chat-nickname").press("Enter")
    await expect(carol.get_by_test_id("chat-title")).to_have_text(bob_nick)
    await expect(bob.get_by_test_id("chat-link").filter(has_text=carol_nick)).to_be_visible()
    await carol.get_by_test_id("direct-chat-nickname").fill(carol_nick)
    await carol.get_by_test_id("direct-chat-nickname").press("Enter")
    await expect(carol.get_by_test_id("direct-chat-error")).not_to_be_empty()
    assert browsers.page_errors == []
