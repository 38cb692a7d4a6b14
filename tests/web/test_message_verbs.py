"""The message verbs in the web app between two people, live and after a reload, in both
languages: edit, delete, reply, react, and system lines kept in the history."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from playwright.async_api import Page, expect

from tests.support import ui
from tests.support.people import unique
from tests.web.conftest import Browsers, ServerProcess

pytestmark = pytest.mark.browser


@dataclass
class TwoPeople:
    alice: Page
    bob: Page
    alice_nick: str
    bob_nick: str
    chat_name: str


async def two_people(
    server: ServerProcess, browsers: Browsers, chat: str, *, bob_opens: bool = True
) -> TwoPeople:
    """Alice and Bob signed up in two browsers; Alice made the chat and added Bob, who opened it
    (unless told not to)."""
    alice = await browsers.new_page()
    bob = await browsers.new_page()
    chat_name = unique(f"{chat} ")
    alice_nick, bob_nick = await ui.two_in_a_chat(
        alice, bob, server.base_url, chat_name, bob_joins=bob_opens
    )
    return TwoPeople(alice, bob, alice_nick, bob_nick, chat_name)


async def test_edit_and_delete_live_between_two_people(
    server: ServerProcess, browsers: Browsers
) -> None:
    people = await two_people(server, browsers, "Verbs")
    alice, bob = people.alice, people.bob
    await ui.send(alice, "helo wrld")
    await ui.send(alice, "a secret")
    await expect(bob.get_by_test_id("message-text").filter(has_text="a secret")).to_be_visible()

    # Only the author has Edit and Delete.
    await expect(bob.get_by_test_id("edit-message")).to_have_count(0)
    await expect(alice.get_by_test_id("edit-message")).to_have_count(2)

    # Alice edits with the button; Bob sees the new text and the mark, live.
    first = alice.get_by_test_id("message").filter(has_text="helo wrld")
    await first.get_by_test_id("edit-message").click()
    field = alice.get_by_test_id("edit-field")
    await expect(field).to_be_focused()
    await field.fill("hello world")
    await field.press("Enter")
    await expect(field).to_have_count(0)
    await expect(bob.get_by_test_id("message-text").filter(has_text="hello world")).to_be_visible(
        timeout=3_000
    )
    edited = bob.get_by_test_id("message").filter(has_text="hello world")
    await expect(edited.get_by_test_id("message-edited")).to_be_visible()

    # Up in an empty composer opens the last own message; Escape leaves it as it was.
    await alice.get_by_test_id("composer").press("ArrowUp")
    await expect(alice.get_by_test_id("edit-field")).to_have_value("a secret")
    await alice.get_by_test_id("edit-field").press("Escape")
    await expect(alice.get_by_test_id("edit-field")).to_have_count(0)

    # Alice deletes: both see the tombstone in its place, and Bob's chat list preview too.
    secret = alice.get_by_test_id("message").filter(has_text="a secret")
    await secret.get_by_test_id("delete-message").click()
    await alice.get_by_test_id("delete-confirm").click()
    await expect(alice.get_by_test_id("message-deleted")).to_have_text("message deleted")
    await expect(bob.get_by_test_id("message-deleted")).to_have_text(
        "message deleted", timeout=3_000
    )
    await expect(bob.get_by_test_id("message-list").get_by_text("a secret")).to_have_count(0)
    preview = bob.get_by_test_id("chat-link").filter(has_text=people.chat_name)
    await expect(preview.get_by_test_id("chat-preview")).to_have_text(
        f"{people.alice_nick}: message deleted"
    )
    assert await ui.messages(bob) == ["hello world"]

    # After a reload (history from the server) the edit and the tombstone are still there,
    # and in Russian the tombstone and the mark are Russian.
    await bob.reload()
    await ui.open_chat(bob, people.chat_name)
    await expect(bob.get_by_test_id("message-deleted")).to_be_visible()
    await bob.get_by_test_id("language").select_option("ru")
    await expect(bob.get_by_test_id("message-deleted")).to_have_text("сообщение удалено")
    await expect(bob.get_by_test_id("message-edited")).to_contain_text("изменено")
    await bob.get_by_test_id("language").select_option("en")


async def test_reply_quotes_jumps_and_shows_the_tombstone(
    server: ServerProcess, browsers: Browsers
) -> None:
    people = await two_people(server, browsers, "Replies")
    alice, bob = people.alice, people.bob
    await ui.send(alice, "Lunch at noon?\nOr later")
    for number in range(12):  # enough to scroll the original out of view
        await ui.send(alice, f"filler {number}")
    question = bob.get_by_test_id("message").filter(has_text="Lunch at noon?")
    await expect(bob.get_by_test_id("message-text").filter(has_text="filler 11")).to_be_visible()

    # Bob answers the question: the banner shows what he answers; the reply quotes it.
    await question.get_by_test_id("reply-message").click()
    await expect(bob.get_by_test_id("reply-banner")).to_contain_text("Lunch at noon?")
    await expect(bob.get_by_test_id("composer")).to_be_focused()
    await ui.send(bob, "Noon works")
    await expect(bob.get_by_test_id("reply-banner")).to_be_hidden()
    answer = alice.get_by_test_id("message").filter(has_text="Noon works")
    quote = answer.get_by_test_id("reply-quote")
    await expect(quote).to_contain_text(people.alice_nick)
    await expect(answer.get_by_test_id("reply-quote-text")).to_have_text("Lunch at noon?")

    # A click on the quote brings the original into view.
    original = alice.get_by_test_id("message").filter(has_text="Or later")
    await alice.get_by_test_id("message-list").evaluate(
        "list => list.parentElement.scrollTo(0, list.parentElement.scrollHeight)"
    )
    await quote.click()
    await expect(original).to_be_in_viewport()
    await expect(original).to_have_class("message mine highlight")

    # Escape in the composer cancels a reply before it is sent.
    await (
        alice.get_by_test_id("message")
        .filter(has_text="filler 3")
        .get_by_test_id("reply-message")
        .click()
    )
    await alice.get_by_test_id("composer").press("Escape")
    await expect(alice.get_by_test_id("reply-banner")).to_be_hidden()

    # Alice deletes the question: the reply shows the tombstone live, and after a reload.
    await original.get_by_test_id("delete-message").click()
    await alice.get_by_test_id("delete-confirm").click()
    bob_quote = bob.get_by_test_id("message").filter(has_text="Noon works")
    await expect(bob_quote.get_by_test_id("reply-quote-text")).to_have_text(
        "message deleted", timeout=3_000
    )
    await bob.reload()
    await ui.open_chat(bob, people.chat_name)
    await expect(
        bob.get_by_test_id("message")
        .filter(has_text="Noon works")
        .get_by_test_id("reply-quote-text")
    ).to_have_text("message deleted")


async def test_reactions_toggle_live_with_counts_and_names(
    server: ServerProcess, browsers: Browsers
) -> None:
    people = await two_people(server, browsers, "Reactions")
    alice, bob = people.alice, people.bob
    await ui.send(alice, "Pizza tonight?")
    on_bob = bob.get_by_test_id("message").filter(has_text="Pizza tonight?")
    on_alice = alice.get_by_test_id("message").filter(has_text="Pizza tonight?")

    # Bob picks 👍 from the quick choices; Alice sees it live with his name.
    await on_bob.get_by_test_id("react").click()
    await on_bob.get_by_role("button", name="React with 👍").click()
    chip = on_alice.get_by_test_id("reaction")
    await expect(chip).to_have_text("👍1", timeout=3_000)
    await expect(chip).to_have_attribute("aria-pressed", "false")
    await expect(chip).to_have_attribute("title", people.bob_nick)

    # Alice adds hers by clicking the chip: two, both names; Bob's own chip is pressed.
    await chip.click()
    await expect(chip).to_have_text("👍2")
    await expect(chip).to_have_attribute("aria-pressed", "true")
    await expect(on_bob.get_by_test_id("reaction")).to_have_text("👍2", timeout=3_000)
    await expect(on_bob.get_by_test_id("reaction")).to_have_attribute(
        "title", f"{people.bob_nick}, {people.alice_nick}"
    )

    # Any emoji through the field; a word is refused with a message (Russian here).
    await alice.get_by_test_id("language").select_option("ru")
    await on_alice.get_by_test_id("react").click()
    field = on_alice.get_by_test_id("reaction-input")
    await field.fill("yay")
    await field.press("Enter")
    await expect(on_alice.get_by_role("alert")).to_have_text("Реакция — это один эмодзи.")
    await field.fill("🦄")
    await field.press("Enter")
    await expect(on_bob.get_by_test_id("reaction")).to_have_text(["👍2", "🦄1"], timeout=3_000)
    await alice.get_by_test_id("language").select_option("en")

    # Bob takes his back: one left, live on both sides, and after a reload.
    await expect(on_bob.get_by_test_id("reaction").first).to_have_attribute("aria-pressed", "true")
    await on_bob.get_by_test_id("reaction").first.click()
    await expect(on_bob.get_by_test_id("reaction")).to_have_text(["👍1", "🦄1"])
    await expect(on_alice.get_by_test_id("reaction")).to_have_text(["👍1", "🦄1"], timeout=5_000)
    await bob.reload()
    await ui.open_chat(bob, people.chat_name)
    await expect(on_bob.get_by_test_id("reaction")).to_have_text(["👍1", "🦄1"])
    await expect(on_bob.get_by_test_id("reaction").first).to_have_attribute("aria-pressed", "false")


async def test_joins_and_leaves_stay_in_the_history(
    server: ServerProcess, browsers: Browsers
) -> None:
    people = await two_people(server, browsers, "Lines", bob_opens=False)
    alice, bob = people.alice, people.bob
    await ui.send(alice, "first")
    await ui.add_member(alice, people.bob_nick)
    notes = alice.get_by_test_id("system-note")
    await expect(notes).to_have_text([f"{people.bob_nick} joined the chat"])
    await ui.open_chat(bob, people.chat_name)
    await expect(bob.get_by_test_id("system-note")).to_have_text(
        [f"{people.bob_nick} joined the chat"]
    )
    await ui.send(bob, "hello")
    await bob.get_by_test_id("leave").click()
    await bob.get_by_test_id("leave-confirm").click()
    await expect(notes).to_have_text(
        [f"{people.bob_nick} joined the chat", f"{people.bob_nick} left the chat"], timeout=3_000
    )

    # After a reload they are still there, in order with the messages, and in Russian too.
    await alice.reload()
    await ui.open_chat(alice, people.chat_name)
    await expect(notes).to_have_text(
        [f"{people.bob_nick} joined the chat", f"{people.bob_nick} left the chat"]
    )
    order = await alice.locator(
        "[data-testid=message-text], [data-testid=system-note]"
    ).all_text_contents()
    assert order == [
        "first",
        f"{people.bob_nick} joined the chat",
        "hello",
        f"{people.bob_nick} left the chat",
    ]
    await alice.get_by_test_id("language").select_option("ru")
    await expect(notes).to_have_text(
        [f"{people.bob_nick} присоединяется к чату", f"{people.bob_nick} покидает чат"]
    )
    await alice.get_by_test_id("language").select_option("en")
