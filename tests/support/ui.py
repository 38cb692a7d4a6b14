"""What a person does on the page, as Playwright steps shared by the browser tests."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.support.people import PASSWORD, unique


async def register(page: Page, base_url: str, nickname: str) -> None:
    await page.goto(base_url + "/")
    await page.get_by_test_id("switch-auth-mode").click()
    await page.get_by_label("Login").fill(nickname.lower())
    await page.get_by_label("Nickname").fill(nickname)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_test_id("me")).to_have_text(nickname)
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "connected")


async def sign_in(page: Page, base_url: str, login: str) -> None:
    await page.goto(base_url + "/")
    await page.get_by_label("Login").fill(login)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "connected")


async def create_chat(page: Page, name: str) -> None:
    await page.get_by_test_id("new-chat-name").fill(name)
    await page.get_by_test_id("new-chat-name").press("Enter")
    await expect(page.get_by_test_id("chat-title")).to_have_text(name)


async def open_chat(page: Page, name: str) -> None:
    await page.get_by_test_id("chat-link").filter(has_text=name).click()
    await expect(page.get_by_test_id("chat-title")).to_have_text(name)


async def add_member(page: Page, nickname: str) -> None:
    await page.get_by_test_id("add-member-nickname").fill(nickname)
    await page.get_by_test_id("add-member-nickname").press("Enter")
    await expect(page.get_by_test_id("member-name").filter(has_text=nickname)).to_be_visible()


async def two_in_a_chat(
    alice: Page, bob: Page, base_url: str, chat_name: str, *, bob_joins: bool = True
) -> tuple[str, str]:
    """Alice and Bob sign up (fresh nicknames, returned); Alice makes the chat and, unless told
    not to, adds Bob, who opens it."""
    alice_nick, bob_nick = unique("Alice"), unique("Bob")
    await register(alice, base_url, alice_nick)
    await register(bob, base_url, bob_nick)
    await create_chat(alice, chat_name)
    if bob_joins:
        await add_member(alice, bob_nick)
        await open_chat(bob, chat_name)
    return alice_nick, bob_nick


async def send(page: Page, text: str) -> None:
    composer = page.get_by_test_id("composer")
    await composer.fill(text)
    await composer.press("Enter")
    await expect(composer).to_have_value("")


async def messages(page: Page) -> list[str]:
    """Texts of the server-confirmed messages shown in the open chat, in order."""
    texts: list[str] = await page.locator(
        "[data-testid=message] [data-testid=message-text]"
    ).all_text_contents()
    return texts
