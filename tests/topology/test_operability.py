"""What an operator watches: each process's Prometheus metrics on an address nginx does not
route, and JSON log lines that follow one request through gateway and services without a
token, a password or a message's text in any of them."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest

from tests.gateway.test_abuse_limits import COSTLY
from tests.support.clients import graphql, graphql_body
from tests.support.people import PASSWORD
from tests.support.redis import PrivateRedis
from tests.topology.clients import (
    SEND_MESSAGE,
    Subscriber,
    create_chat_with,
    global_chat_id,
    register,
)
from tests.topology.stack_command import RunningStack, stack_command

pytestmark = [pytest.mark.topology, pytest.mark.mariadb, pytest.mark.redis]

SECRET_TEXT = "the eagle lands at midnight 7f3a"
LOGIN = """mutation($login: String!, $password: String!) {
  login(login: $login, password: $password) { __typename } }"""


def metrics_urls(stack: RunningStack) -> dict[str, str]:
    found = (re.search(r"(\S+) metrics on (\S+)", line) for line in stack.output)
    return {m[1]: m[2] for m in found if m}


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text `text` (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        series, value = line.rsplit(" ", 1)
        metric, _, label_text = series.partition("{")
        found = dict(re.findall(r'(\w+)="([^"]*)"', label_text))
        if metric == name and all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return 0.0


async def test_metrics_and_json_logs(tmp_path: Path, private_redis: PrivateRedis) -> None:
    env = {"MYCHAT_LOG_FORMAT": "json", "MYCHAT_LOGIN_RATE_PER_MINUTE": "3"}
    async with (
        stack_command(tmp_path, private_redis.url, env=env) as stack,
        httpx.AsyncClient(base_url=stack.url, timeout=10) as client,
    ):
        alice, bob = await register(client, "Alice"), await register(client, "Bob")
        chat_id = await create_chat_with(client, alice, bob)
        chat = await global_chat_id(client, bob, chat_id)
        first = await graphql(client, SEND_MESSAGE, {"chatId": chat, "text": "hi"}, alice.token)
        # From the first message on: the secret one cannot slip past a subscription that is
        # still starting (catch-up covers it).
        subscriber = Subscriber(
            stack.ws_url, bob, chat, after=first["sendMessage"]["message"]["id"]
        )
        listening = asyncio.create_task(subscriber.run())
        try:
            async with asyncio.timeout(15):
                await subscriber.subscribed.wait()
            sent = await client.post(
                "/mychat/graphql",
                json={"query": SEND_MESSAGE, "variables": {"chatId": chat, "text": SECRET_TEXT}},
                headers=alice.headers,
            )
            assert sent.json()["data"]["sendMessage"]["__typename"] == "SendMessagePayload"
            request_id = sent.headers["x-request-id"]  # nginx's id, as the gateway logged it
            assert re.fullmatch(r"[0-9a-f]{32}", request_id)  # one copy: nginx's
            await subscriber.wait_for(1)
            # Input that is refused must not reach a log either.
            bad = await client.post(
                "/mychat/graphql",
                json={"query": SEND_MESSAGE, "variables": {"chatId": 7, "text": SECRET_TEXT}},
                headers={"Authorization": "Bearer " + alice.token[::-1]},
            )
            assert bad.status_code in (200, 400)
            statuses = []
            for attempt in range(6):
                wrong = {"login": alice.login, "password": f"{PASSWORD} {attempt}"}
                if attempt % 2:
                    await client.post("/mychat/graphql", json={"query": LOGIN, "variables": wrong})
                else:
                    response = await client.post("/mychat/api/auth/login", json=wrong)
                    statuses.append(response.status_code)
            assert statuses[0] == 400
            assert statuses[-1] == 429
            costly = await graphql_body(client, COSTLY, {}, alice.token)
            assert costly["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"

            urls = metrics_urls(stack)
            assert set(urls) == {"auth", "chat", "gateway-1", "gateway-2"}
            scraped = {}
            for name, url in urls.items():
                response = await client.get(url)
                assert response.status_code == 200
                scraped[name] = response.text
        finally:
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
        # nginx does not route /metrics anywhere: the web app's page answers instead.
        public = await client.get("/metrics")
        assert "mychat_http_requests_total" not in public.text

    gateways = [scraped["gateway-1"], scraped["gateway-2"]]
    graphql_posts = sum(
        sample(g, "mychat_http_requests_total", route="/mychat/graphql", method="POST")
        for g in gateways
    )
    assert graphql_posts >= 1
    assert sum(sample(g, "mychat_websockets_open") for g in gateways) == 1
    assert sum(sample(g, "mychat_subscriptions_active") for g in gateways) == 1
    assert sum(sample(g, "mychat_events_delivered_total") for g in gateways) >= 1
    refused = (
        sample(g, "mychat_graphql_limit_refusals_total", code="QUERY_TOO_COSTLY") for g in gateways
    )
    assert sum(refused) == 1
    assert all("mychat_broker_reconnects_total" in g for g in gateways)
    assert all("mychat_event_executions_total" in g for g in gateways)
    assert all("mychat_event_renders_total" in g for g in gateways)
    chat_metrics = scraped["chat"]
    assert sample(chat_metrics, "mychat_events_published_total") >= 1
    assert "mychat_db_pool_checked_out{pool=" in chat_metrics
    assert sample(chat_metrics, "mychat_db_pool_size", pool="main") >= 1
    # Route templates, not paths: the chat id is not a label value.
    assert "/mychat/api/chat/{" in chat_metrics
    assert f"/mychat/api/chat/{chat_id}/" not in chat_metrics
    auth_metrics = scraped["auth"]
    assert sample(auth_metrics, "mychat_login_failures_total") >= 2
    assert sample(auth_metrics, "mychat_rate_limit_refusals_total") >= 1
    assert sample(auth_metrics, "mychat_http_request_duration_seconds_count") >= 1

    logs = {log.name: log.read_text() for log in (tmp_path / "stack" / "logs").glob("*.log")}
    logs |= {log.name: log.read_text() for log in (tmp_path / "stack" / "nginx").glob("*.log")}
    for secret in (PASSWORD, alice.token, bob.token, alice.token[::-1], SECRET_TEXT):
        leaks = [name for name, text in logs.items() if secret in text]
        assert not leaks, f"{secret[:12]}... in {leaks}"
    for name in ("auth.log", "chat.log", "gateway-1.log", "gateway-2.log"):
        for line in logs[name].splitlines():
            entry = json.loads(line)  # every line one JSON object
            assert {"time", "level", "logger", "message", "request_id"} <= set(entry)
    # One request, followed from nginx through the gateway to chat_service.
    followed = [
        name
        for name in ("gateway-1.log", "gateway-2.log", "chat.log")
        for line in logs[name].splitlines()
        if json.loads(line)["request_id"] == request_id
    ]
    assert "chat.log" in followed
    assert {"gateway-1.log", "gateway-2.log"} & set(followed)
