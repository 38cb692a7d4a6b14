"""The web app in a real Chromium against `mychat serve`: two people chatting live, history
paging, safe rendering, sessions, and catching up after the socket is cut."""

from __future__ import annotations

import asyncio
import time

import pytest
from playwright.async_api import Dialog, Route, expect

from tests.support import ui
from tests.support.browser import SCREENSHOTS, record_csp_violations
from tests.support.people import PASSWORD, unique
from tests.web.conftest import Api, Browsers, ServerProcess

pytestmark = pytest.mark.browser


async def test_two_people_chat_live(server: ServerProcess, browsers: Browsers) -> None:
    alice = await browsers.new_page()
    bob = await browsers.new_page()
    # What Bob's page sends: markRead goes over its open socket, not as an HTTP request each.
    bob_frames: list[str | bytes] = []
    bob_requests: list[str] = []
    bob.on("websocket", lambda socket: socket.on("framesent", lambda frame: bob_frames.append(frame)))
    bob.on("request", lambda request: bob_requests.append(request.post_data or ""))
    alice_nick, bob_nick = unique("Alice"), unique("Bob")
    await ui.register(alice, server.base_url, alice_nick)
    await ui.register(bob, server.base_url, bob_nick)

    chat_name = unique("Lunch ")
    await ui.create_chat(alice, chat_name)
    await ui.add_member(alice, bob_nick)

    # Bob's list shows the new chat without a reload.
    bob_link = bob.get_by_test_id("chat-link").filter(has_text=chat_name)
    await expect(bob_link).to_be_visible(timeout=5_000)

    # A message before Bob opens the chat: his list shows the preview and an unread count.
    await ui.send(alice, "Welcome!")
    await expect(bob_link.get_by_test_id("chat-preview")).to_have_text(f"{alice_nick}: Welcome!")
    await expect(bob_link.get_by_test_id("unread")).to_have_text("1")
    await ui.open_chat(bob, chat_name)
    await expect(bob_link.get_by_test_id("unread")).to_be_hidden()
    async with asyncio.timeout(5):
        while not any("MarkRead" in str(frame) for frame in bob_frames):
            await asyncio.sleep(0.05)
    assert not any("MarkRead" in body for body in bob_requests)
    started = time.monotonic()
    await ui.send(alice, "Hi Bob, pizza at noon?")
    await expect(bob.get_by_test_id("message-text").filter(has_text="pizza at noon")).to_be_visible(
        timeout=2_000
    )
    assert time.monotonic() - started < 2.5

    await ui.send(bob, "Sounds good!\nSee you there")
    await expect(
        alice.get_by_test_id("message-text").filter(has_text="Sounds good!")
    ).to_be_visible(timeout=2_000)
    conversation = ["Welcome!", "Hi Bob, pizza at noon?", "Sounds good!\nSee you there"]
    assert await ui.messages(alice) == conversation
    assert await ui.messages(bob) == conversation

    # Bob leaves: his list drops the chat, Alice sees him gone from the members and a note.
    await bob.get_by_test_id("leave").click()
    await bob.get_by_test_id("leave-confirm").click()
    await expect(bob_link).to_have_count(0)
    await expect(
        alice.get_by_test_id("system-note").filter(has_text=f"{bob_nick} left")
    ).to_be_visible()
    await expect(alice.get_by_test_id("member-name").filter(has_text=bob_nick)).to_have_count(0)
    assert browsers.page_errors == []


async def test_history_pages_load_when_scrolling_up(
    server: ServerProcess, browsers: Browsers, api: Api
) -> None:
    nickname = unique("Hist")
    token = await api.register(nickname.lower(), nickname)
    chat_id = await api.create_chat(token, "Long history")
    for number in range(1, 301):
        await api.send(token, chat_id, f"message {number}")

    page = await browsers.new_page()
    await ui.sign_in(page, server.base_url, nickname.lower())
    await ui.open_chat(page, "Long history")
    scroller = page.get_by_test_id("messages")
    # Opens at the newest message, with only the last page loaded.
    await expect(
        page.get_by_test_id("message-text").filter(has_text="message 300")
    ).to_be_in_viewport()
    shown = await ui.messages(page)
    assert shown[-1] == "message 300"
    assert len(shown) < 300

    for _ in range(30):
        if await page.get_by_text("message 1", exact=True).count():
            break
        await scroller.evaluate("el => { el.scrollTop = 0; }")
        await page.wait_for_timeout(150)
    await expect(page.get_by_text("message 1", exact=True)).to_be_attached()
    shown = await ui.messages(page)
    assert shown == [f"message {number}" for number in range(1, 301)]
    assert browsers.page_errors == []


async def test_markup_in_a_message_is_shown_as_text(
    server: ServerProcess, browsers: Browsers
) -> None:
    page = await browsers.new_page()
    dialogs: list[str] = []
    csp_violations = record_csp_violations(page)

    async def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    nickname = unique("Mallory")
    await ui.register(page, server.base_url, nickname)
    await ui.create_chat(page, "<b>bold</b> name")
    payload = "<img src=x onerror=alert(1)>"
    await ui.send(page, payload)
    await expect(page.get_by_test_id("message").get_by_test_id("message-text")).to_have_text(
        payload
    )
    await page.wait_for_timeout(500)
    assert await page.get_by_test_id("message-list").locator("img").count() == 0
    await expect(page.get_by_test_id("chat-name").first).to_have_text("<b>bold</b> name")
    assert dialogs == []
    assert csp_violations == []
    assert browsers.page_errors == []


async def test_reload_keeps_the_session_and_sign_out_forgets_it(
    server: ServerProcess, browsers: Browsers
) -> None:
    page = await browsers.new_page()
    nickname = unique("Carol")
    await ui.register(page, server.base_url, nickname)
    await page.reload()
    await expect(page.get_by_test_id("me")).to_have_text(nickname)
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "connected")

    # A chat that does not exist (or is someone else's) says so.
    await page.goto(server.base_url + "/#/chat/Q2hhdDo5OTk5OTk=")
    await expect(page.get_by_text("does not exist")).to_be_visible()

    await page.get_by_test_id("sign-out").click()
    await expect(page.get_by_test_id("signin-form")).to_be_visible()
    await page.reload()
    await expect(page.get_by_test_id("signin-form")).to_be_visible()
    assert await page.evaluate("localStorage.getItem('mychat.session')") is None

    # A stored token that has expired leads back to sign in, saying why.
    await ui.sign_in(page, server.base_url, nickname.lower())
    await page.evaluate(
        """() => {
            const session = JSON.parse(localStorage.getItem('mychat.session'));
            session.expiresAt = new Date(Date.now() - 1000).toISOString();
            localStorage.setItem('mychat.session', JSON.stringify(session));
        }"""
    )
    await page.reload()
    await expect(page.get_by_test_id("auth-notice")).to_contain_text("expired")
    await expect(page.get_by_test_id("signin-form")).to_be_visible()


@pytest.mark.parametrize("message_before_cut", [True, False], ids=["seen-one", "seen-none"])
async def test_messages_sent_while_the_socket_was_cut_arrive_once(
    own_server: ServerProcess, browsers: Browsers, message_before_cut: bool
) -> None:
    alice = await browsers.new_page()
    bob = await browsers.new_page()
    await ui.two_in_a_chat(alice, bob, own_server.base_url, "Reconnect")
    # Bob's resume cursor is a message he saw, or none at all (he resumes from the start).
    before = ["before the cut"] if message_before_cut else []
    for text in before:
        await ui.send(alice, text)
        await expect(bob.get_by_test_id("message-text").filter(has_text=text)).to_be_visible()

    # Bob is away (offline) while the server restarts, which cuts every socket.
    await bob.context.set_offline(True)
    await asyncio.to_thread(own_server.restart)
    await expect(bob.get_by_test_id("connection")).to_have_attribute("data-state", "reconnecting")
    await expect(alice.get_by_test_id("connection")).to_have_attribute(
        "data-state", "connected", timeout=15_000
    )
    missed = [f"sent while Bob was away {number}" for number in range(1, 4)]
    for text in missed:
        await ui.send(alice, text)
    await expect(alice.get_by_test_id("message-text").filter(has_text=missed[-1])).to_be_visible()
    await expect(bob.get_by_test_id("message-text").filter(has_text=missed[0])).to_have_count(0)

    await bob.context.set_offline(False)
    await expect(bob.get_by_test_id("connection")).to_have_attribute(
        "data-state", "connected", timeout=15_000
    )
    await expect(bob.get_by_test_id("message-text").filter(has_text=missed[-1])).to_be_visible()
    await bob.wait_for_timeout(500)
    assert await ui.messages(bob) == [*before, *missed]
    assert browsers.page_errors == []


async def test_screens_in_both_languages_and_at_phone_width(
    server: ServerProcess, browsers: Browsers, api: Api
) -> None:
    """Also saves the main screens to test-artifacts/screenshots/; `make screenshots` copies
    them to web/screenshots/ for the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # Plain names read better in the README; this module's server is fresh.
    friend = "Anna"
    friend_token = await api.register("anna", friend)
    taken = friend

    page = await browsers.new_page()
    await page.goto(server.base_url + "/")
    await page.get_by_test_id("switch-auth-mode").click()
    login = "boris"
    await page.get_by_label("Login").fill(login)
    await page.get_by_label("Nickname").fill(taken)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    # The server's error is shown at the field it is about.
    await expect(page.get_by_test_id("error-nickname")).not_to_be_empty()
    await expect(page.get_by_label("Nickname")).to_have_attribute("aria-invalid", "true")
    await page.screenshot(path=str(SCREENSHOTS / "register.png"))

    me = "Boris"
    await page.get_by_label("Nickname").fill(me)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_test_id("me")).to_have_text(me)
    await ui.create_chat(page, "Weekend trip")
    await ui.add_member(page, friend)
    chats = await api.call("{ chats { edges { node { id name } } } }", friend_token)
    trip = next(
        e["node"]["id"] for e in chats["chats"]["edges"] if e["node"]["name"] == "Weekend trip"
    )
    await ui.send(page, "Shall we go to the mountains on Saturday?")
    await api.send(friend_token, trip, "Yes! I'll bring the tent and the stove.")
    await ui.send(page, "Great, I'll book the train.\nLeaving at 8:15.")
    await ui.create_chat(page, "Book club")
    await ui.send(page, "Next book: The Master and Margarita")
    await ui.open_chat(page, "Weekend trip")
    await expect(page.get_by_test_id("message")).to_have_count(3)

    # New activity moves a chat to the top of the list, live.
    names = page.get_by_test_id("chat-name")
    await expect(names).to_have_text(["Book club", "Weekend trip"])
    await api.send(friend_token, trip, "Tickets are cheaper on Friday.")
    await expect(names).to_have_text(["Weekend trip", "Book club"])
    await expect(page.get_by_test_id("message")).to_have_count(4)
    await page.mouse.move(700, 300)  # no hover highlight in the picture
    await page.screenshot(path=str(SCREENSHOTS / "chat.png"))

    # Russian, kept across a reload.
    await page.get_by_test_id("language").select_option("ru")
    await expect(page.get_by_test_id("sign-out")).to_have_text("Выйти")
    await page.reload()
    await expect(page.get_by_test_id("sign-out")).to_have_text("Выйти")
    await expect(page.locator("html")).to_have_attribute("lang", "ru")
    await page.screenshot(path=str(SCREENSHOTS / "chat-ru.png"))
    await page.get_by_test_id("language").select_option("en")
    # The dark theme, chosen in the header.
    await page.get_by_test_id("theme").select_option("dark")
    await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    await page.mouse.move(700, 300)
    await page.screenshot(path=str(SCREENSHOTS / "chat-dark.png"))
    await page.get_by_test_id("theme").select_option("system")

    # Phone width: one pane at a time, reachable with the keyboard alone.
    phone = await browsers.new_page(width=390, height=780)
    await ui.sign_in(phone, server.base_url, login)
    await expect(phone.get_by_test_id("chat-link")).to_have_count(2)
    await phone.screenshot(path=str(SCREENSHOTS / "phone-chats.png"))
    await phone.get_by_test_id("menu-toggle").click()
    await expect(phone.get_by_test_id("sign-out")).to_be_visible()
    await phone.screenshot(path=str(SCREENSHOTS / "phone-menu.png"))
    await phone.keyboard.press("Escape")
    await phone.get_by_test_id("chat-link").filter(has_text="Weekend trip").focus()
    await phone.keyboard.press("Enter")
    await expect(phone.get_by_test_id("chat-title")).to_have_text("Weekend trip")
    await expect(phone.get_by_test_id("chat-list")).to_be_hidden()
    await phone.get_by_test_id("composer").focus()
    await phone.keyboard.type("On my way")
    await phone.keyboard.press("Shift+Enter")
    await phone.keyboard.type("see you soon")
    await phone.keyboard.press("Enter")
    await expect(phone.get_by_test_id("message").get_by_test_id("message-text").last).to_have_text(
        "On my way\nsee you soon"
    )
    await phone.screenshot(path=str(SCREENSHOTS / "phone-chat.png"))
    assert browsers.page_errors == []


async def test_a_send_without_answer_goes_again_by_itself_and_a_refusal_is_marked(
    server: ServerProcess, browsers: Browsers
) -> None:
    page = await browsers.new_page()
    await ui.register(page, server.base_url, unique("Gina"))
    await ui.create_chat(page, "Flaky network")

    async def drop_sends(route: Route) -> None:
        if "SendMessage" in (route.request.post_data or ""):
            await route.abort()
        else:
            await route.continue_()

    # The request never reaches the server: the message waits (not red) and goes by itself.
    await page.route("**/mychat/graphql", drop_sends)
    await ui.send(page, "first try fails")
    waiting = page.get_by_test_id("message-waiting")
    await expect(waiting).to_have_count(1)
    await expect(waiting.get_by_test_id("message-text")).to_have_text("first try fails")
    await expect(page.get_by_test_id("message-failed")).to_have_count(0)
    await page.unroute_all(behavior="wait")
    await expect(page.get_by_test_id("message").get_by_test_id("message-text")).to_have_text(
        ["first try fails"], timeout=15_000
    )
    await expect(waiting).to_have_count(0)

    # A refusal (too long for the server: past the field's maxlength) is red, says why, and
    # stays after a retry.
    await page.get_by_test_id("composer").evaluate("el => { el.value = 'x'.repeat(4001); }")
    await page.get_by_test_id("composer").press("Enter")
    failed = page.get_by_test_id("message-failed")
    await expect(failed).to_have_count(1)
    await expect(failed).to_contain_text("not sent")
    await failed.get_by_test_id("retry").click()
    await expect(failed).to_have_count(1)
    await expect(page.get_by_test_id("message")).to_have_count(1)

    # The server stores it but the answer is lost: its copy (from the live feed) replaces the
    # optimistic one, and a retry with the same clientId does not store it twice.
    async def lose_answers(route: Route) -> None:
        if "SendMessage" in (route.request.post_data or ""):
            await route.fetch()
            await route.abort()
        else:
            await route.continue_()

    await page.route("**/mychat/graphql", lose_answers)
    await ui.send(page, "answer lost")
    await expect(page.get_by_test_id("message").get_by_test_id("message-text")).to_have_text(
        ["first try fails", "answer lost"]
    )
    # A handler may still be in its fetch (the live feed showed the message first): wait for
    # it to abort, or its abort meets a route already let through and fails the next step.
    await page.unroute_all(behavior="wait")
    await expect(page.get_by_test_id("message-pending")).to_have_count(0)
    await page.reload()
    await ui.open_chat(page, "Flaky network")
    await expect(page.get_by_test_id("message").get_by_test_id("message-text")).to_have_text(
        ["first try fails", "answer lost"]
    )
    assert browsers.page_errors == []


async def test_the_one_field_forms_mark_a_refusal_and_clear_it_on_success(
    server: ServerProcess, browsers: Browsers
) -> None:
    """New chat, add member and direct chat share their sending (views/common.js)."""
    page = await browsers.new_page()
    await ui.register(page, server.base_url, unique("Fay"))
    new_chat = page.get_by_test_id("new-chat-name")
    new_chat_error = page.get_by_test_id("new-chat-error")
    await new_chat.press("Enter")  # an empty name
    await expect(new_chat_error).not_to_be_empty()
    await expect(new_chat).to_have_attribute("aria-invalid", "true")
    await ui.create_chat(page, "Forms")
    await expect(new_chat_error).to_be_empty()
    await expect(new_chat).not_to_have_attribute("aria-invalid", "true")

    for form in ("add-member", "direct-chat"):
        field = page.get_by_test_id(f"{form}-nickname")
        await field.fill(unique("Nobody"))
        await field.press("Enter")
        await expect(page.get_by_test_id(f"{form}-error")).to_have_text("Nobody has this nickname.")
        await expect(field).to_have_attribute("aria-invalid", "true")
    assert browsers.page_errors == []


async def test_a_refused_token_leads_back_to_sign_in(
    own_server: ServerProcess, browsers: Browsers
) -> None:
    page = await browsers.new_page()
    await ui.register(page, own_server.base_url, unique("Hal"))
    # A new signing secret: the server now refuses the token the page holds.
    own_server.jwt_secret = "rotated-secret-" + "y" * 40
    await asyncio.to_thread(own_server.restart)
    await expect(page.get_by_test_id("auth-notice")).to_contain_text("expired", timeout=15_000)
    await expect(page.get_by_test_id("signin-form")).to_be_visible()
    assert await page.evaluate("localStorage.getItem('mychat.session')") is None
    assert browsers.page_errors == []


async def test_more_chats_load_on_request(
    server: ServerProcess, browsers: Browsers, api: Api
) -> None:
    nickname = unique("Ivy")
    token = await api.register(nickname.lower(), nickname)
    for number in range(1, 56):
        await api.create_chat(token, f"Room {number}")
    page = await browsers.new_page()
    await ui.sign_in(page, server.base_url, nickname.lower())
    links = page.get_by_test_id("chat-link")
    await expect(links).to_have_count(50)
    await expect(page.get_by_test_id("chat-name").first).to_have_text("Room 55")
    await page.get_by_test_id("more-chats").click()
    await expect(links).to_have_count(55)
    await expect(page.get_by_test_id("more-chats")).to_be_hidden()
    await expect(page.get_by_test_id("chat-name").last).to_have_text("Room 1")
    assert browsers.page_errors == []


async def test_reading_on_one_page_clears_the_badge_on_the_readers_other_page(
    server: ServerProcess, browsers: Browsers
) -> None:
    """Bob has the app open twice (a laptop and a phone, say): reading a chat on one drops its
    unread badge on the other at once, without a reload or a new message."""
    alice, bob_laptop, bob_phone = [await browsers.new_page() for _ in range(3)]
    chat_name = unique("Two devices ")
    _, bob_nick = await ui.two_in_a_chat(
        alice, bob_laptop, server.base_url, chat_name, bob_joins=False
    )
    await ui.sign_in(bob_phone, server.base_url, bob_nick.lower())
    await ui.add_member(alice, bob_nick)
    await ui.send(alice, "one")
    await ui.send(alice, "two")
    for page in (bob_laptop, bob_phone):
        link = page.get_by_test_id("chat-link").filter(has_text=chat_name)
        await expect(link.get_by_test_id("unread")).to_have_text("2")
    await ui.open_chat(bob_laptop, chat_name)
    phone_link = bob_phone.get_by_test_id("chat-link").filter(has_text=chat_name)
    await expect(phone_link.get_by_test_id("unread")).to_be_hidden(timeout=5_000)
    assert browsers.page_errors == []
