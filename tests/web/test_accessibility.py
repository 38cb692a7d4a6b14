"""Every screen passes axe-core (no serious or critical violation: labels, roles, contrast) in
the light and the dark theme; the app works with the keyboard alone with a visible focus; and at
phone width the header, menu, members panel and last message behave."""

from __future__ import annotations

from typing import Literal

import pytest
from playwright.async_api import Page, expect

from tests.support import ui
from tests.support.axe import axe_violations
from tests.support.people import unique
from tests.web.conftest import Api, Browsers, ServerProcess

pytestmark = pytest.mark.browser

Scheme = Literal["light", "dark"]


async def check_screen(page: Page, name: str, scheme: Scheme) -> list[str]:
    await expect(page.locator("html")).to_have_attribute("data-theme", scheme)
    return [f"{name} [{scheme}]: {line}" for line in await axe_violations(page)]


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_every_screen_passes_axe(
    server: ServerProcess, browsers: Browsers, api: Api, scheme: Scheme
) -> None:
    problems: list[str] = []
    page = await browsers.new_page()
    await page.emulate_media(color_scheme=scheme)  # the theme follows the system

    await page.goto(server.base_url + "/")
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    problems += await check_screen(page, "sign in", scheme)
    await page.get_by_role("button", name="Sign in").click()  # empty: field errors
    problems += await check_screen(page, "sign in with errors", scheme)

    nickname = unique("Axe")
    await ui.register(page, server.base_url, nickname)
    problems += await check_screen(page, "no chats yet", scheme)

    friend = unique("Friend")
    friend_token = await api.register(friend.lower(), friend)
    await ui.create_chat(page, "Accessible room")
    problems += await check_screen(page, "empty chat", scheme)
    await ui.add_member(page, friend)
    chat_id = await api.call("{ chats(first: 1) { edges { node { id } } } }", friend_token)
    room = chat_id["chats"]["edges"][0]["node"]["id"]
    await api.send(friend_token, room, "Hello there")
    await ui.send(page, "Hi!")
    await expect(page.get_by_test_id("message")).to_have_count(2)
    problems += await check_screen(page, "chat with members", scheme)

    await page.get_by_test_id("chat-search").fill("nothing like this")
    await expect(page.get_by_test_id("list-status")).to_contain_text("No chats match")
    problems += await check_screen(page, "search without results", scheme)
    await page.get_by_test_id("chat-search").fill("")

    phone = await browsers.new_page(width=390, height=844)
    await phone.emulate_media(color_scheme=scheme)
    await ui.sign_in(phone, server.base_url, nickname.lower())
    problems += await check_screen(phone, "phone: chats", scheme)
    await phone.get_by_test_id("menu-toggle").click()
    problems += await check_screen(phone, "phone: menu", scheme)
    await phone.keyboard.press("Escape")
    await ui.open_chat(phone, "Accessible room")
    problems += await check_screen(phone, "phone: chat", scheme)
    await phone.get_by_test_id("members-toggle").click()
    problems += await check_screen(phone, "phone: members", scheme)

    assert problems == [], "\n".join(problems)
    assert browsers.page_errors == []


async def test_theme_switch_overrides_the_system(server: ServerProcess, browsers: Browsers) -> None:
    page = await browsers.new_page()
    await page.emulate_media(color_scheme="light")
    await ui.register(page, server.base_url, unique("Theme"))
    html = page.locator("html")
    await expect(html).to_have_attribute("data-theme", "light")
    await page.get_by_test_id("theme").select_option("dark")
    await expect(html).to_have_attribute("data-theme", "dark")
    background = await page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert background == "rgb(17, 19, 28)"
    await page.reload()  # the choice is kept
    await expect(html).to_have_attribute("data-theme", "dark")
    await page.get_by_test_id("theme").select_option("system")
    await expect(html).to_have_attribute("data-theme", "light")
    await page.emulate_media(color_scheme="dark")  # following the system again
    await expect(html).to_have_attribute("data-theme", "dark")


async def focused_outline(page: Page) -> str:
    style: str = await page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return `${s.outlineStyle} ${s.outlineWidth}`; }"
    )
    return style


async def test_keyboard_only_with_visible_focus(server: ServerProcess, browsers: Browsers) -> None:
    page = await browsers.new_page()
    nickname = unique("Keys")
    await page.goto(server.base_url + "/")
    await expect(page.get_by_label("Login")).to_be_focused()
    # Register with the keyboard: the mode switch, then the fields in order.
    await page.get_by_test_id("switch-auth-mode").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("Login")).to_be_visible()
    await page.get_by_label("Login").focus()
    await page.keyboard.type(nickname.lower())
    await page.keyboard.press("Tab")
    await page.keyboard.type(nickname)
    await page.keyboard.press("Tab")
    await page.keyboard.type("correct horse battery staple")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("me")).to_have_text(nickname)

    # Tab reaches the new chat field; every stop shows its focus.
    for _ in range(30):
        await page.keyboard.press("Tab")
        assert (await focused_outline(page)).startswith("solid"), await page.evaluate(
            "document.activeElement.outerHTML.slice(0, 120)"
        )
        if await page.get_by_test_id("new-chat-name").evaluate(
            "el => el === document.activeElement"
        ):
            break
    await page.keyboard.type("Keyboard room")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("chat-title")).to_have_text("Keyboard room")
    composer = page.get_by_test_id("composer")
    await expect(composer).to_be_focused()
    await page.keyboard.type("typed, not clicked")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("message-text")).to_have_text(["typed, not clicked"])
    # The message list is focusable (keyboard scrolling) and shows it.
    await page.get_by_test_id("messages").focus()
    assert (await focused_outline(page)).startswith("solid")
    assert browsers.page_errors == []


async def test_phone_width(server: ServerProcess, browsers: Browsers, api: Api) -> None:
    nickname = unique("Phone")
    token = await api.register(nickname.lower(), nickname)
    chat_id = await api.create_chat(token, "Long chat")
    for number in range(1, 41):
        await api.send(token, chat_id, f"line {number}\nsecond row")

    phone = await browsers.new_page(width=390, height=844)
    await ui.sign_in(phone, server.base_url, nickname.lower())
    # The header keeps the name and the connection state; the rest is in the menu.
    await expect(phone.get_by_test_id("me")).to_be_visible()
    await expect(phone.get_by_test_id("me")).to_have_text(nickname)
    await expect(phone.get_by_test_id("connection")).to_be_visible()
    sign_out = phone.get_by_test_id("sign-out")
    await expect(sign_out).to_be_hidden()
    await phone.get_by_test_id("menu-toggle").click()
    await expect(sign_out).to_be_visible()
    await phone.get_by_test_id("me").click()  # a tap outside closes the menu
    await expect(sign_out).to_be_hidden()
    await phone.get_by_test_id("menu-toggle").click()
    await phone.keyboard.press("Escape")
    await expect(sign_out).to_be_hidden()
    await expect(phone.get_by_test_id("menu-toggle")).to_be_focused()

    # Opening the chat shows the last message whole, above the composer.
    await ui.open_chat(phone, "Long chat")
    last = phone.get_by_test_id("message").last
    await expect(last).to_contain_text("line 40")
    await expect(last).to_be_in_viewport(ratio=1)
    box = await last.bounding_box()
    scroller = await phone.get_by_test_id("messages").bounding_box()
    assert box is not None
    assert scroller is not None
    assert box["y"] + box["height"] <= scroller["y"] + scroller["height"] + 1

    # The members panel closes by a tap outside, by Escape, and by the back gesture.
    panel = phone.get_by_test_id("members-panel")
    toggle = phone.get_by_test_id("members-toggle")
    await toggle.click()
    await expect(panel).to_be_visible()
    await phone.mouse.click(20, 400)  # on the messages, outside the panel
    await expect(panel).to_be_hidden()
    await toggle.click()
    await expect(panel).to_be_visible()
    await phone.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await toggle.click()
    await expect(panel).to_be_visible()
    await phone.go_back()
    await expect(panel).to_be_hidden()
    await expect(phone.get_by_test_id("chat-title")).to_have_text("Long chat")  # still in it
    assert browsers.page_errors == []
