"""Knobs shared by every scenario; `--quick` shrinks them for a smoke run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchConfig:
    warmup_seconds: float = 1.0
    duration_seconds: float = 5.0
    http_concurrency: int = 32
    fanout_subscribers: int = 1000
    fanout_messages: int = 20
    fanout_interval_seconds: float = 0.5
    fanout_burst: int = 20
    subscriber_processes: int = 2
    # bench/events.py: viewers of one chat with the web app's chatEvents (and marking read),
    # and the large run (not marking read) compared with the bare broadcast.
    events_subscribers: int = 1000
    events_large_subscribers: int = 10_000
    idle_connections: int = 5000
    idle_window_seconds: float = 5.0
    login_concurrency: int = 4
    # bench/search.py: messages loaded, and searches timed.
    search_messages: int = 1_000_000
    search_queries: int = 300

    @classmethod
    def quick(cls) -> BenchConfig:
        return cls(
            warmup_seconds=0.5,
            duration_seconds=2.0,
            fanout_subscribers=100,
            fanout_messages=10,
            fanout_burst=10,
            events_subscribers=100,
            events_large_subscribers=200,
            idle_connections=500,
            idle_window_seconds=2.0,
            search_messages=50_000,
            search_queries=60,
        )
