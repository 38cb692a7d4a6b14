"""What the servers did during a measured window, read from their own counters.

Service calls: each auth_service and chat_service process serves Prometheus metrics
(MYCHAT_METRICS_PORT); `mychat_http_requests_total` counts every request it answered by route
template, so the gateways' internal calls are the requests to `/internal/...` routes. Database
writes: MariaDB's per-table statistics (`userstat`), rows changed per table of the scenario's
own database.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.procs import HOST

Calls = Counter[str]  # "METHOD /route/template" -> requests answered
INTERNAL = "/internal/"


def internal_calls(metrics_ports: Iterable[int]) -> Calls:
    """Requests the services answered on internal routes so far, summed over processes."""
    calls: Calls = Counter()
    for port in metrics_ports:
        body = httpx.get(f"http://{HOST}:{port}/metrics", timeout=10).text
        for family in text_string_to_metric_families(body):
            if family.name != "mychat_http_requests":
                continue
            for sample in family.samples:
                route = sample.labels.get("route", "")
                if sample.name.endswith("_total") and route.startswith(INTERNAL):
                    calls[f"{sample.labels['method']} {route}"] += int(sample.value)
    return calls


def delta(after: Calls, before: Calls) -> Calls:
    return Counter({key: after[key] - before[key] for key in after if after[key] != before[key]})


def per(calls: Calls, times: int) -> dict[str, float]:
    return {key: round(value / max(1, times), 3) for key, value in sorted(calls.items())}


RowsChanged = Counter[str]  # table -> rows inserted, updated or deleted


async def _rows_changed(database_url: str, schema: str) -> RowsChanged:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                text(
                    "SELECT TABLE_NAME, ROWS_CHANGED FROM information_schema.TABLE_STATISTICS "
                    "WHERE TABLE_SCHEMA = :schema"
                ),
                {"schema": schema},
            )
            return Counter({str(row[0]): int(row[1]) for row in result})
    finally:
        await engine.dispose()


def rows_changed(database_url: str) -> RowsChanged:
    """Rows changed so far per table of the database the URL names (needs `userstat` on)."""
    schema = database_url.rsplit("/", 1)[1].split("?", 1)[0]
    return asyncio.run(_rows_changed(database_url, schema))


async def _set_userstat(database_url: str, on: bool | None) -> bool:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            was = (await connection.execute(text("SELECT @@GLOBAL.userstat"))).scalar()
            if on is not None:
                await connection.execute(text(f"SET GLOBAL userstat = {int(on)}"))
            return bool(was)
    finally:
        await engine.dispose()


@contextmanager
def table_statistics(database_url: str) -> Iterator[bool]:
    """MariaDB's per-table statistics on for the block (as they were after); yields whether
    they could be turned on (the bench's database user needs SUPER)."""
    try:
        was = asyncio.run(_set_userstat(database_url, True))
    except Exception as error:  # any refusal only means no write counts
        print(f"  no table statistics (SET GLOBAL userstat refused: {error})", flush=True)
        yield False
        return
    try:
        yield True
    finally:
        if not was:
            asyncio.run(_set_userstat(database_url, False))


def rows_delta(after: RowsChanged, before: RowsChanged) -> dict[str, int]:
    return {table: after[table] - before[table] for table in sorted(after) if after[table]}
