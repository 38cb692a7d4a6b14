"""GraphiQL, bundled with the web app and served by the gateway, in a Chromium that cannot
reach anything beyond this machine: it loads, runs a query and a subscription with the
signed-in user's token, shows the schema docs, and keeps the token out of localStorage."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, Response, Route, expect

from tests.support import ui
from tests.support.axe import axe_violations
from tests.support.browser import record_csp_violations
from tests.support.people import unique
from tests.web.conftest import Api, Browsers, ServerProcess

pytestmark = pytest.mark.browser

LOCAL = ("127.0.0.1", "localhost", "::1")


async def offline(page: Page) -> list[str]:
    """Abort every request of the page's browser context (its pages and workers, tabs it
    opens) that would leave the machine; returns the list of those tried."""
    tried: list[str] = []

    async def handle(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL:
            await route.continue_()
        else:
            tried.append(route.request.url)
            await route.abort()

    await page.context.route("**/*", handle)
    return tried


async def run_query(page: Page, name: str) -> Any:
    """Run one query or mutation of the example, picked from the run button's menu; its HTTP
    result."""

    def is_run(response: Response) -> bool:
        body = response.request.post_data_json if response.request.method == "POST" else None
        return isinstance(body, dict) and body.get("operationName") == name

    async with page.expect_response(is_run) as answered:
        await run_operation(page, name)
    return await (await answered.value).json()


async def run_operation(page: Page, name: str) -> None:
    await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    await page.get_by_role("menuitem", name=name).click()


async def test_graphiql_offline_runs_queries_mutations_and_subscriptions_with_the_users_token(
    server: ServerProcess, browsers: Browsers, api: Api
) -> None:
    page = await browsers.new_page()
    tried = await offline(page)
    csp_violations = record_csp_violations(page)
    nickname = unique("Gql")
    await ui.register(page, server.base_url, nickname)
    token = await page.evaluate("JSON.parse(localStorage.getItem('mychat.session')).token")
    chat_id = await api.create_chat(token, "Explorer room")

    # Opened from the web app: the link in the header.
    async with page.context.expect_page() as opened:
        await page.get_by_role("link", name="GraphiQL").click()
    graphiql = await opened.value
    await expect(graphiql.get_by_role("button", name="Execute query (Ctrl-Enter)")).to_be_visible(
        timeout=20_000
    )

    # The token is in the Headers tab, visible and editable.
    headers = graphiql.locator(".graphiql-editor-tool .view-lines").last
    await expect(headers).to_contain_text(f"Bearer {token}")

    result = await run_query(graphiql, "MyChats")
    assert result["data"]["me"]["nickname"] == nickname
    assert [edge["node"]["name"] for edge in result["data"]["chats"]["edges"]] == ["Explorer room"]
    await expect(graphiql.locator(".graphiql-response")).to_contain_text("Explorer room")

    # A mutation.
    created = await run_query(graphiql, "CreateChat")
    assert created["data"]["createChat"]["chat"]["name"] == "Made in GraphiQL"
    result = await run_query(graphiql, "MyChats")
    names = {edge["node"]["name"] for edge in result["data"]["chats"]["edges"]}
    assert names == {"Explorer room", "Made in GraphiQL"}

    # A subscription over graphql-ws: a message sent elsewhere shows up in the result pane.
    await run_operation(graphiql, "ChatEvents")
    await graphiql.wait_for_timeout(500)  # the socket's connection_init and subscribe
    await api.send(token, chat_id, "hello from the API")
    await expect(graphiql.locator(".graphiql-response")).to_contain_text(
        "hello from the API", timeout=10_000
    )

    # The schema docs.
    await graphiql.get_by_role("button", name="Show Documentation Explorer").click()
    await graphiql.get_by_role("link", name="Query").click()
    await expect(graphiql.locator(".graphiql-doc-explorer")).to_contain_text("chats")

    # Accessible in both themes, but for what GraphiQL's packages draw themselves: Monaco's
    # syntax colours and tabs whose close button sits inside the tab.
    for scheme in ("light", "dark"):
        await graphiql.emulate_media(color_scheme=scheme)
        await graphiql.wait_for_timeout(300)  # GraphiQL and Monaco switch themes
        problems = await axe_violations(
            graphiql, exclude=(".monaco-editor",), disable=("nested-interactive",)
        )
        assert problems == [], (scheme, problems)

    # Nothing left the machine, nothing was blocked by the page's policy, and the token is
    # nowhere in localStorage except the app's own session.
    assert tried == []
    assert csp_violations == []
    stored = await graphiql.evaluate(
        "Object.keys(localStorage).filter((key) => localStorage.getItem(key).includes("
        f"{json.dumps(token)}))"
    )
    assert stored == ["mychat.session"]
    assert browsers.page_errors == []


async def test_graphiql_without_a_session_has_empty_headers_and_says_sign_in(
    server: ServerProcess, browsers: Browsers
) -> None:
    page = await browsers.new_page()
    tried = await offline(page)
    await page.goto(server.base_url + "/mychat/graphql")
    await expect(page.get_by_role("button", name="Execute query (Ctrl-Enter)")).to_be_visible(
        timeout=20_000
    )
    headers = page.locator(".graphiql-editor-tool .view-lines").last
    await expect(headers).to_have_text("{}")
    result = await run_query(page, "MyChats")
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    await expect(page.locator(".graphiql-response")).to_contain_text("UNAUTHENTICATED")
    assert tried == []
