"""Message search on 1,000,000 messages in MariaDB: latency (p50/p99) and rows read.

`python -m bench search` (part of `make bench`). A fresh database from db/init.sql gets 2,000
users, 4,000 chats of 10 members and 1,000,000 messages of 6-14 words drawn from a Zipf-like
vocabulary of 20,000 words (a few very common words, a long tail of rare ones), loaded in bulk:
multi-row INSERTs with the FULLTEXT index dropped, then the index built once (ALTER TABLE), as
a restore would. Each message's search row (`message_search`: its words tagged with its chat,
mychat.search_words, as chat_service writes it with the message) is loaded in the table's
order. Then the searches the product runs (`chat_service.search.search_messages`, the
statements of `GET /internal/search`) as random members, one at a time: a common word, a
middling one, a rare one, two words, a prefix. For each: the latency (time to the page of 21
rows) and the rows the server read, from the session's `Rows_read` counter before and after
(every row read by the search's statements, the full-text index's matches included: the
`Handler_read%` counters leave those out).
Written to bench/results/latest.json and bench/results/search.md.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bench.config import BenchConfig
from bench.report import RESULTS_DIR
from bench.results_model import Figure, ScenarioResult
from bench.stack import fresh_database
from chat_service.search import search_messages
from mychat.search_words import indexed_words

USERS = 2_000
CHATS = 4_000
MEMBERS_PER_CHAT = 10
VOCABULARY = 20_000
BATCH = 5_000
PAGE = 20
SYLLABLES = [a + b for a in "bcdfghklmnprstvz" for b in "aeiou"]
SEED = 11


def _words(rng: random.Random) -> list[str]:
    """Distinct pronounceable words of 2-4 syllables (all at least 4 letters)."""
    found: dict[str, None] = {}
    while len(found) < VOCABULARY:
        found["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))] = None
    return list(found)


def _messages(
    rng: random.Random, words: list[str], count: int, members: dict[int, list[int]]
) -> Iterator[list[tuple[Any, ...]]]:
    weights = [1 / rank for rank in range(1, len(words) + 1)]  # Zipf, s = 1
    cumulative: list[float] = []
    total = 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    start = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    message_id = 0
    while message_id < count:
        size = min(BATCH, count - message_id)
        lengths = [rng.randint(6, 14) for _ in range(size)]
        drawn = rng.choices(words, cum_weights=cumulative, k=sum(lengths))
        rows: list[tuple[Any, ...]] = []
        at = 0
        for length in lengths:
            message_id += 1
            chat_id = rng.randint(1, CHATS)
            sender = rng.choice(members[chat_id])
            sent = start + timedelta(seconds=message_id)
            rows.append((message_id, chat_id, sender, " ".join(drawn[at : at + length]), sent))
            at += length
        yield rows


async def _insert_many(
    connection: AsyncConnection, head: str, row: str, rows: list[tuple[Any, ...]]
) -> None:
    """Multi-row INSERTs of BATCH rows each: one statement (and one commit) per batch."""
    for at in range(0, len(rows), BATCH):
        chunk = rows[at : at + BATCH]
        statement = f"{head} VALUES " + ", ".join([row] * len(chunk))
        await connection.exec_driver_sql(statement, tuple(v for r in chunk for v in r))


async def _load(connection: AsyncConnection, config: BenchConfig) -> dict[str, Any]:
    rng = random.Random(SEED)
    started = time.monotonic()
    await connection.exec_driver_sql("SET SESSION foreign_key_checks = 0, unique_checks = 0")
    await connection.exec_driver_sql(
        "ALTER TABLE message_search DROP INDEX ix_message_search_words"
    )
    now = datetime(2026, 1, 1)
    users = [(i, f"user{i}", f"User{i}", f"user{i}", "x", now) for i in range(1, USERS + 1)]
    await _insert_many(
        connection,
        "INSERT INTO users (id, login, nickname, nickname_key, password_hash, created_at)",
        "(%s, %s, %s, %s, %s, %s)",
        users,
    )
    chats = [(i, f"Chat {i}", 1, now, now) for i in range(1, CHATS + 1)]
    await _insert_many(
        connection,
        "INSERT INTO chats (id, name, created_by, created_at, last_activity_at)",
        "(%s, %s, %s, %s, %s)",
        chats,
    )
    members: dict[int, list[int]] = {
        chat_id: rng.sample(range(1, USERS + 1), MEMBERS_PER_CHAT)
        for chat_id in range(1, CHATS + 1)
    }
    await _insert_many(
        connection,
        "INSERT INTO chat_members (chat_id, user_id, role, joined_at, last_read_message_id)",
        "(%s, %s, 'member', %s, 0)",
        [(chat_id, user_id, now) for chat_id, ids in members.items() for user_id in ids],
    )
    words = _words(rng)
    searched: list[tuple[int, int, str]] = []
    for rows in _messages(rng, words, config.search_messages, members):
        await _insert_many(
            connection,
            "INSERT INTO messages (id, chat_id, sender_id, text, created_at)",
            "(%s, %s, %s, %s, %s)",
            rows,
        )
        searched += [
            (chat_id, id_, indexed_words(chat_id, text)) for id_, chat_id, _, text, _ in rows
        ]
    # Each chat's newest message, as the send path keeps it (search walks chats by it).
    await connection.exec_driver_sql(
        "UPDATE chats SET last_message_id ="
        " (SELECT MAX(m.id) FROM messages m WHERE m.chat_id = chats.id)"
    )
    searched.sort()  # the primary key's order: (chat_id, message_id)
    await _insert_many(
        connection,
        "INSERT INTO message_search (chat_id, message_id, words)",
        "(%s, %s, %s)",
        searched,
    )
    del searched
    loaded = time.monotonic()
    print(f"  loaded {config.search_messages:,} messages in {loaded - started:.0f} s", flush=True)
    await connection.exec_driver_sql(
        "ALTER TABLE message_search ADD FULLTEXT INDEX ix_message_search_words (words)"
    )
    await connection.exec_driver_sql("ANALYZE TABLE messages, chat_members, message_search")
    indexed = time.monotonic()
    print(f"  built the FULLTEXT index in {indexed - loaded:.0f} s", flush=True)
    return {
        "words": words,
        "members": members,
        "load_seconds": round(loaded - started, 1),
        "index_seconds": round(indexed - loaded, 1),
    }


async def _rows_read(connection: AsyncConnection) -> int:
    rows = await connection.exec_driver_sql("SHOW SESSION STATUS LIKE 'Rows_read'")
    return int(rows.scalars(1).one())


def _queries(words: list[str]) -> dict[str, list[str]]:
    """Search kinds and their queries: by rank in the vocabulary (0 is the most common word)."""
    return {
        "common word": [words[0], words[1], words[2]],
        "middling word": [words[200], words[500], words[1000]],
        "rare word": [words[15000], words[18000], words[19999]],
        "two words": [f"{words[3]} {words[40]}", f"{words[10]} {words[700]}"],
        "prefix": [words[5][:4], words[300][:5]],
    }


async def _measure(url: str, config: BenchConfig) -> ScenarioResult:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            loaded = await _load(connection, config)
        members: dict[int, list[int]] = loaded["members"]
        people = sorted({user for ids in members.values() for user in ids})
        rng = random.Random(SEED + 1)
        kinds = _queries(loaded["words"])
        latencies: dict[str, list[float]] = {kind: [] for kind in kinds}
        examined: dict[str, list[int]] = {kind: [] for kind in kinds}
        hits: dict[str, list[int]] = {kind: [] for kind in kinds}
        per_kind = max(1, config.search_queries // len(kinds))
        async with engine.connect() as connection:
            for queries in kinds.values():  # warm the buffer pool and FTS cache once
                await search_messages(connection, people[0], queries[0], first=PAGE)
            for kind, queries in kinds.items():
                for _ in range(per_kind):
                    user = rng.choice(people)
                    before = await _rows_read(connection)
                    started = time.perf_counter()
                    found, _more, _terms = await search_messages(
                        connection, user, rng.choice(queries), first=PAGE
                    )
                    latencies[kind].append((time.perf_counter() - started) * 1000)
                    # The status query itself reads a few rows: measured below and taken off.
                    examined[kind].append(await _rows_read(connection) - before)
                    hits[kind].append(len(found))
            idle = await _rows_read(connection)
            overhead = await _rows_read(connection) - idle
        everything = [value for values in latencies.values() for value in values]
        result = ScenarioResult(
            "search",
            f"Message search on {config.search_messages:,} messages (MariaDB FULLTEXT)",
            "chat_service.search.search_messages as random members (each in ~20 of 4,000 chats),"
            " one at a time on one connection; rows read from Rows_read deltas",
        )
        result.add(Figure("search p50", _percentile(everything, 50), "ms", higher_is_better=False))
        result.add(
            Figure(
                "search p99",
                _percentile(everything, 99),
                "ms",
                higher_is_better=False,
                target="< 100 ms",
                target_met=_percentile(everything, 99) < 100,
            )
        )
        for kind in kinds:
            rows = [value - overhead for value in examined[kind]]
            result.add(
                Figure(
                    f"{kind}: p99",
                    _percentile(latencies[kind], 99),
                    "ms",
                    higher_is_better=False,
                    note=f"rows read median {statistics.median(rows):,.0f}, max {max(rows):,};"
                    f" hits per page median {statistics.median(hits[kind]):.0f}",
                )
            )
        result.settings.update(
            {
                "messages": config.search_messages,
                "users": USERS,
                "chats": CHATS,
                "members_per_chat": MEMBERS_PER_CHAT,
                "vocabulary": VOCABULARY,
                "page": PAGE,
                "searches": len(everything),
                "load_seconds": loaded["load_seconds"],
                "fulltext_build_seconds": loaded["index_seconds"],
                "queries": {kind: queries for kind, queries in kinds.items()},
            }
        )
        result.series = {kind: values for kind, values in latencies.items()}
        if config.search_messages == BenchConfig().search_messages:  # not a --quick run
            _write_markdown(result, examined, overhead)
        return result
    finally:
        await engine.dispose()


def _percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _write_markdown(result: ScenarioResult, examined: dict[str, list[int]], overhead: int) -> None:
    lines = [
        f"# {result.title}",
        "",
        f"Method: {result.method}. Settings: {result.settings['messages']:,} messages,"
        f" {result.settings['chats']:,} chats x {result.settings['members_per_chat']} members,"
        f" {result.settings['users']:,} users, vocabulary {result.settings['vocabulary']:,}"
        f" words (Zipf); bulk load {result.settings['load_seconds']} s, FULLTEXT build"
        f" {result.settings['fulltext_build_seconds']} s; {result.settings['searches']}"
        " searches, a page of 20.",
        "",
        "| search | p50 ms | p99 ms | rows read (median) | rows read (max) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for kind, values in result.series.items():
        rows = [value - overhead for value in examined[kind]]
        lines.append(
            f"| {kind} | {_percentile(values, 50):.1f} | {_percentile(values, 99):.1f} |"
            f" {statistics.median(rows):,.0f} | {max(rows):,} |"
        )
    overall = [figure for figure in result.figures if figure.name in ("search p50", "search p99")]
    lines += ["", ", ".join(f"{figure.name}: {figure.value:.1f} ms" for figure in overall), ""]
    (RESULTS_DIR / "search.md").write_text("\n".join(lines))


def run(config: BenchConfig) -> ScenarioResult:
    with fresh_database() as url:
        return asyncio.run(_measure(url, config))
