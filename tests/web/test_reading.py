"""Reading and writing like in a daily messenger: grouped messages and day separators, the "New
messages" divider a chat opens at, jump to latest, older history without a jump, drafts per chat,
empty states, notifications and announcements for others' messages, and sends that wait out a
server restart and go by themselves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.support import ui
from tests.support.people import unique
from tests.support.ports import free_port
from tests.web.conftest import Api, Browsers, ServerProcess

pytestmark = pytest.mark.browser

CREATE_WITH_MEMBERS = (
    "mutation($n: String!, $m: [String!]) { createChat(name: $n, memberNicknames: $m) {"
    " __typename ... on CreateChatPayload { chat { id } } } }"
)

# Records the notifications the page shows (the browser's own would go to the desktop).
RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  window.__notifications = [];
  class Recorded extends Real {
    constructor(title, options) {
      window.__notifications.push({ title, body: options && options.body });
      super(title, options);
    }
  }
  Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
  Recorded.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorded;
})();
"""

# Chromium keeps a headless tab "visible"; the page is told otherwise the way a browser would.
HIDE_TAB = """
Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
document.dispatchEvent(new Event('visibilitychange'));
"""
SHOW_TAB = """
delete document.visibilityState;
document.dispatchEvent(new Event('visibilitychange'));
"""


async def chat_with(api: Api, owner_token: str, name: str, *members: str) -> str:
    data = await api.call(CREATE_WITH_MEMBERS, owner_token, n=name, m=list(members))
    chat_id: str = data["createChat"]["chat"]["id"]
    return chat_id


async def person(api: Api, prefix: str) -> tuple[str, str]:
    nickname = unique(prefix)
    return nickname, await api.register(nickname.lower(), nickname)


async def test_groups_days_divider_and_jump_to_latest(
    server: ServerProcess, browsers: Browsers, api: Api
) -> None:
    alice, alice_token = await person(api, "Alice")
    bob, bob_token = await person(api, "Bob")
    chat_id = await chat_with(api, alice_token, "Reading room", bob)
    await api.send(alice_token, chat_id, "morning!")
    await api.send(alice_token, chat_id, "are you there?")
    await api.send(bob_token, chat_id, "yes")
    # Bob has read up to here; then 40 more arrive while he is away.
    page = await browsers.new_page()
    await ui.sign_in(page, server.base_url, bob.lower())
    await ui.open_chat(page, "Reading room")
    await page.get_by_test_id("chat-link").filter(has_text="Reading room").focus()
    await page.goto(server.base_url + "/#/")
    for number in range(1, 41):
        await api.send(alice_token, chat_id, f"news {number}")
    link = page.get_by_test_id("chat-link").filter(has_text="Reading room")
    await expect(link.get_by_test_id("unread")).to_have_text("40")

    await ui.open_chat(page, "Reading room")
    # Grouping: Alice's name once per run of her messages; Bob's own never.
    senders = page.get_by_test_id("message-sender")
    await expect(senders).to_have_text([alice, alice])
    first_run = page.get_by_test_id("message").nth(1)
    await expect(first_run).to_have_class("message theirs grouped")
    # One day separator, "Today".
    await expect(page.get_by_test_id("day-separator")).to_have_text(["Today"])
    # Opened at the divider, which sits just before the first unread message.
    divider = page.get_by_test_id("unread-divider")
    await expect(divider).to_have_text("New messages")
    await expect(divider).to_be_in_viewport()
    after_divider = page.locator("[data-testid=unread-divider] + li")
    await expect(after_divider.get_by_test_id("message-text")).to_have_text("news 1")
    last = page.get_by_test_id("message-text").filter(has_text="news 40")
    await expect(last).not_to_be_in_viewport()
    # Jump to latest.
    jump = page.get_by_test_id("jump-latest")
    await expect(jump).to_be_visible()
    await jump.click()
    await expect(last).to_be_in_viewport()
    await expect(jump).to_be_hidden()
    assert browsers.page_errors == []


@pytest.fixture
def long_session_server(
    monkeypatch: pytest.MonkeyPatch,
    web_dist: Path,
    chromium_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerProcess]:
    """A server whose tokens last three days, so the browser's clock can move days ahead."""
    monkeypatch.setenv("MYCHAT_JWT_TTL_SECONDS", str(3 * 24 * 3600))
    process = ServerProcess(tmp_path_factory.mktemp("mychat-days"), free_port())
    process.start()
    yield process
    process.stop()


async def test_day_separators_say_yesterday_then_the_date(
    long_session_server: ServerProcess, browsers: Browsers
) -> None:
    server = long_session_server
    api = Api(server.base_url)
    try:
        nickname, token = await person(api, "Days")
        chat_id = await api.create_chat(token, "Diary")
        await api.send(token, chat_id, "written today")
    finally:
        await api.close()
    page = await browsers.new_page()
    now = datetime.now(UTC)
    await page.clock.set_system_time(now + timedelta(days=1))
    await ui.sign_in(page, server.base_url, nickname.lower())
    await ui.open_chat(page, "Diary")
    await expect(page.get_by_test_id("day-separator")).to_have_text(["Yesterday"])
    await page.clock.set_system_time(now + timedelta(days=2))
    await page.reload()
    await ui.open_chat(page, "Diary")
    label = now.astimezone().strftime("%B")  # the browser runs in this machine's time zone
    await expect(page.get_by_test_id("day-separator")).to_contain_text(label)
    await expect(page.get_by_test_id("day-separator")).not_to_have_text("Yesterday")
    assert browsers.page_errors == []


async def test_older_history_loads_without_moving_what_the_reader_sees(
    server: ServerProcess, browsers: Browsers, api: Api
) -> None:
    nickname, token = await person(api, "Scroll")
    chat_id = await api.create_chat(token, "Long read")
    for number in range(1, 121):
        await api.send(token, chat_id, f"entry {number}")
    page = await browsers.new_page()
    await ui.sign_in(page, server.base_url, nickname.lower())
    await ui.open_chat(page, "Long read")
    scroller = page.get_by_test_id("messages")
    await expect(page.get_by_test_id("message-text").first).to_have_text("entry 71")
    entry_71 = page.get_by_test_id("message-text").filter(has_text="entry 71")
    # Scroll to the top: the next page loads above, and "entry 71" stays where it was.
    before = await scroller.evaluate(
        "(el, target) => { el.scrollTop = 0; return target.getBoundingClientRect().top; }",
        await entry_71.element_handle(),
    )
    await expect(page.get_by_test_id("message-text").first).to_have_text("entry 21")
    after = await entry_71.evaluate("el => el.getBoundingClientRect().top")
    assert abs(after - before) < 2
    assert browsers.page_errors == []


async def test_drafts_empty_states_search_and_escape(
    server: ServerProcess, browsers: Browsers
) -> None:
    page = await browsers.new_page()
    await ui.register(page, server.base_url, unique("Drafty"))
    await expect(page.get_by_test_id("list-status")).to_have_text(
        "No chats yet. Create one, or ask someone to add you by your nickname."
    )
    await ui.create_chat(page, "First")
    await expect(page.get_by_test_id("empty-chat")).to_have_text(
        "No messages yet. Write the first one below."
    )
    await page.get_by_test_id("composer").fill("half a thought")
    await ui.create_chat(page, "Second")
    await expect(page.get_by_test_id("composer")).to_have_value("")
    await page.get_by_test_id("composer").fill("another draft")
    await ui.open_chat(page, "First")
    await expect(page.get_by_test_id("composer")).to_have_value("half a thought")
    await ui.open_chat(page, "Second")
    await expect(page.get_by_test_id("composer")).to_have_value("another draft")
    await page.get_by_test_id("composer").press("Enter")  # sent: the draft is gone
    await ui.open_chat(page, "First")
    await ui.open_chat(page, "Second")
    await expect(page.get_by_test_id("composer")).to_have_value("")

    await page.get_by_test_id("chat-search").fill("sec")
    await expect(page.get_by_test_id("chat-name")).to_have_text(["Second"])
    await page.get_by_test_id("chat-search").fill("nothing")
    await expect(page.get_by_test_id("list-status")).to_have_text("No chats match “nothing”.")
    await expect(page.get_by_test_id("chat-link")).to_have_count(0)

    # Esc closes the members panel (an overlay below 1100 px).
    await page.set_viewport_size({"width": 900, "height": 800})
    await page.get_by_test_id("members-toggle").click()
    await expect(page.get_by_test_id("members-panel")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(page.get_by_test_id("members-panel")).to_be_hidden()
    await expect(page.get_by_test_id("members-toggle")).to_be_focused()
    assert browsers.page_errors == []


async def notifications(page: Page) -> list[dict[str, str]]:
    shown: list[dict[str, str]] = await page.evaluate("window.__notifications")
    return shown


async def test_notifications_title_and_announcements(
    server: ServerProcess, browsers: Browsers, api: Api
) -> None:
    alice, alice_token = await person(api, "Alice")
    bob, bob_token = await person(api, "Bob")
    open_chat = await chat_with(api, alice_token, "Open one", bob)
    other_chat = await chat_with(api, alice_token, "Other one", bob)

    page = await browsers.new_page()
    await page.context.grant_permissions(["notifications"], origin=server.base_url)
    await page.add_init_script(RECORD_NOTIFICATIONS)
    await ui.sign_in(page, server.base_url, bob.lower())
    await expect(page.get_by_test_id("notifications-state")).to_have_text("Notifications on")
    await ui.open_chat(page, "Open one")

    # In the chat Bob is looking at: no notification, a polite announcement.
    await api.send(alice_token, open_chat, "see this?")
    await expect(page.get_by_test_id("message-text")).to_have_text(["see this?"])
    announcer = page.get_by_test_id("announcer")
    await expect(announcer).to_have_attribute("aria-live", "polite")
    await expect(announcer).to_have_text(f"{alice}: see this?")
    # His own message: nothing.
    await api.send(bob_token, other_chat, "my own words")
    # Another chat: a notification, the unread count in the title, an announcement.
    await api.send(alice_token, other_chat, "over here")
    await expect(announcer).to_have_text(f"New message from {alice} in Other one")
    await expect(page).to_have_title("(1) MyChat")
    assert await notifications(page) == [{"title": "Other one", "body": f"{alice}: over here"}]

    # The tab goes to the background: the open chat's new messages count in the title and
    # notify too; back on screen they are read.
    await ui.open_chat(page, "Other one")
    await expect(page).to_have_title("MyChat")
    await page.evaluate(HIDE_TAB)
    await api.send(alice_token, open_chat, "still there?")
    await api.send(alice_token, other_chat, "hello?")
    await expect(page).to_have_title("(2) MyChat")
    await page.wait_for_function("window.__notifications.length === 3")
    assert (await notifications(page))[1:] == [
        {"title": "Open one", "body": f"{alice}: still there?"},
        {"title": "Other one", "body": f"{alice}: hello?"},
    ]
    await page.evaluate(SHOW_TAB)
    await expect(page).to_have_title("(1) MyChat")  # "Open one" still waits to be read
    assert browsers.page_errors == []


async def test_notifications_need_the_users_permission(
    server: ServerProcess, browsers: Browsers, api: Api
) -> None:
    _alice, alice_token = await person(api, "Alice")
    bob, _bob_token = await person(api, "Bob")
    chat_id = await chat_with(api, alice_token, "Quiet", bob)
    page = await browsers.new_page()
    await page.add_init_script(RECORD_NOTIFICATIONS)
    await ui.sign_in(page, server.base_url, bob.lower())
    # Not asked yet: a button asks; headless Chromium answers "denied" without a prompt.
    await expect(page.get_by_test_id("enable-notifications")).to_be_visible()
    await api.send(alice_token, chat_id, "psst")
    await expect(page).to_have_title("(1) MyChat")
    assert await notifications(page) == []


async def test_sends_made_offline_go_after_a_server_restart_in_order_once(
    own_server: ServerProcess, browsers: Browsers
) -> None:
    api = Api(own_server.base_url)
    try:
        nickname, token = await person(api, "Resend")
        chat_id = await api.create_chat(token, "Through the outage")
        page = await browsers.new_page()
        await ui.sign_in(page, own_server.base_url, nickname.lower())
        await ui.open_chat(page, "Through the outage")

        own_server.stop()
        await expect(page.get_by_test_id("connection")).not_to_have_attribute(
            "data-state", "connected"
        )
        for text in ("one", "two", "three"):
            await ui.send(page, text)
        waiting = page.get_by_test_id("message-waiting")
        await expect(waiting).to_have_count(3)
        await expect(page.get_by_test_id("message-failed")).to_have_count(0)

        own_server.start()
        await expect(page.get_by_test_id("connection")).to_have_attribute(
            "data-state", "connected", timeout=30_000
        )
        texts = page.get_by_test_id("message").get_by_test_id("message-text")
        await expect(texts).to_have_text(["one", "two", "three"], timeout=30_000)
        await expect(waiting).to_have_count(0)
        await expect(page.get_by_test_id("message-failed")).to_have_count(0)
        # The server has each once, in order.
        data = await api.call(
            "query($id: ID!) { chat(id: $id) { messages(last: 10) { edges { node { text } } } } }",
            token,
            id=chat_id,
        )
        stored = [edge["node"]["text"] for edge in data["chat"]["messages"]["edges"]]
        assert stored == ["one", "two", "three"]
    finally:
        await api.close()
