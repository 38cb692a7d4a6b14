"""Prometheus metrics of one process, served on a port of their own (MYCHAT_METRICS_PORT).

Each app factory builds a `Metrics` (its own registry: nothing at import time) and wraps its app
in `MetricsMiddleware`; the lifespan serves the registry on `metrics_host:metrics_port`, an
address nginx never routes to (embedded, the three apps share one process and one port: the
embedded app serves their registries merged, each sample labelled with its `service`). Unset
port: no server, and nothing is counted.

What is measured: requests and latencies by route template and status, open WebSockets,
login failures (4xx answers of a login route) and rate-limit refusals (429 answers), plus
whatever the process adds with `count_from` and `gauge_from` (subscriptions, events published
and delivered, broker reconnects, database pool use).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mychat.broker.base import Broker
from mychat.settings import Settings


class PooledEngine(Protocol):
    """SQLAlchemy's AsyncEngine, as far as the metrics read it (the gateway imports this module
    and must not load database code, so no SQLAlchemy import here)."""

    @property
    def sync_engine(self) -> Any: ...


LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "unmatched"


Read = Callable[[], float]
ReadByLabel = Callable[[], Mapping[str, float]]


class _Functions(Collector):
    """Counters and gauges read from the process at scrape time (no bookkeeping twice)."""

    def __init__(self) -> None:
        self.counters: dict[str, tuple[str, Read]] = {}
        self.gauges: dict[str, tuple[str, Read]] = {}
        self.pool_gauges: dict[str, tuple[str, dict[str, Read]]] = {}  # (doc, {pool: read})
        # (doc, label name, read): one sample per label value read.
        self.labelled_counters: dict[str, tuple[str, str, ReadByLabel]] = {}

    def collect(self) -> Iterable[Metric]:
        for name, (documentation, read) in self.counters.items():
            yield CounterMetricFamily(name, documentation, value=read())
        for name, (documentation, read) in self.gauges.items():
            yield GaugeMetricFamily(name, documentation, value=read())
        for name, (documentation, label, read_by_label) in self.labelled_counters.items():
            counter = CounterMetricFamily(name, documentation, labels=(label,))
            for value, count in read_by_label().items():
                counter.add_metric((value,), count)
            yield counter
        for name, (documentation, reads) in self.pool_gauges.items():
            family = GaugeMetricFamily(name, documentation, labels=("pool",))
            for pool, read in reads.items():
                family.add_metric((pool,), read())
            yield family


class Metrics:
    """One process's metrics (each process has its own endpoint, so no label says which)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "mychat_http_requests",
            "HTTP requests answered, by route template, method and status",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "mychat_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            ("route", "method"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.websockets = Gauge(
            "mychat_websockets_open", "WebSocket connections open now", registry=self.registry
        )
        self.login_failures = Counter(
            "mychat_login_failures",
            "Login attempts refused (wrong login or password, invalid input)",
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "mychat_rate_limit_refusals",
            "Requests refused with 429 by a rate limit, by route template",
            ("route",),
            registry=self.registry,
        )
        self._functions = _Functions()
        self.registry.register(self._functions)
        # The labelled children of `requests` and `latency` by (route, method, status): as
        # many as their label sets. prometheus_client's `labels()` takes a lock and builds a
        # tuple of strings on every call (~1.5 us each, two per request).
        self._answered: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def count_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered HTTP request: its count by route, method and status, and its latency."""
        children = self._answered.get((route, method, status))
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            self._answered[route, method, status] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_from(self, name: str, documentation: str, read: Read) -> None:
        """A counter whose value the process keeps itself (`read` is called at scrape time)."""
        self._functions.counters[name] = (documentation, read)

    def count_by_label_from(
        self, name: str, documentation: str, label: str, read: ReadByLabel
    ) -> None:
        """Like `count_from`, one counter per value of `label` (`read` maps value -> count)."""
        self._functions.labelled_counters[name] = (documentation, label, read)

    def gauge_from(self, name: str, documentation: str, read: Read) -> None:
        self._functions.gauges[name] = (documentation, read)

    def watch_pool(self, pool: str, engine: PooledEngine) -> None:
        """The connection pool's use: connections lent out now, and kept open in all."""
        sync_pool: Any = engine.sync_engine.pool
        for name, documentation, read in (
            ("mychat_db_pool_checked_out", "Database connections in use", sync_pool.checkedout),
            ("mychat_db_pool_size", "Database connections the pool keeps", sync_pool.size),
        ):
            if callable(read):
                self._functions.pool_gauges.setdefault(name, (documentation, {}))[1][pool] = read

    def watch_broker(self, broker: Broker) -> None:
        stats = broker.stats
        self.count_from(
            "mychat_events_published", "Events this process published", lambda: stats.published
        )
        self.count_from(
            "mychat_events_delivered",
            "Events the broker handed to this process's subscriptions",
            lambda: stats.delivered,
        )
        self.count_from(
            "mychat_broker_reconnects",
            "Times the broker connection came back after a loss",
            lambda: stats.reconnects,
        )
        self.gauge_from(
            "mychat_broker_subscriptions",
            "Broker subscriptions open in this process (one per live GraphQL subscription)",
            lambda: broker.subscriptions,
        )


def metrics_for(settings: Settings) -> Metrics | None:
    """The process's metrics when MYCHAT_METRICS_PORT is set, else None (nothing counted)."""
    return Metrics() if settings.metrics_port is not None else None


class ByService(Collector):
    """Several apps' metrics in one process (the embedded mode), each sample labelled with its
    `service`: one endpoint, and no two families of the same name."""

    def __init__(self, by_service: Mapping[str, Metrics]) -> None:
        self.by_service = by_service

    def collect(self) -> Iterable[Metric]:
        merged: dict[str, Metric] = {}
        for service, metrics in self.by_service.items():
            for family in metrics.registry.collect():
                into = merged.setdefault(
                    family.name,
                    Metric(family.name, family.documentation, family.type, family.unit),
                )
                for sample in family.samples:
                    labels = {**sample.labels, "service": service}
                    into.add_sample(
                        sample.name, labels, sample.value, sample.timestamp, sample.exemplar
                    )
        return merged.values()


def merged_registry(by_service: Mapping[str, Metrics]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ByService(by_service))
    return registry


@contextmanager
def serve_metrics(metrics: Metrics | None, settings: Settings) -> Iterator[None]:
    """Serve /metrics on MYCHAT_METRICS_HOST:MYCHAT_METRICS_PORT while the context is open."""
    with serve_registry(None if metrics is None else metrics.registry, settings):
        yield


@contextmanager
def serve_registry(registry: CollectorRegistry | None, settings: Settings) -> Iterator[None]:
    """`serve_metrics` for any registry (the embedded mode's merged one)."""
    if registry is None or settings.metrics_port is None:
        yield
        return
    server, thread = start_http_server(
        settings.metrics_port, settings.metrics_host, registry=registry
    )
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class MetricsMiddleware:
    """Counts every request by its route template (`/mychat/api/chat/{chat_id:int}`, never the
    raw path, so ids do not explode the label set) and every open WebSocket."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics | None, fixed_paths: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.metrics = metrics
        # Paths served outside the router (the gateway's GraphQL endpoint) are their own template.
        self.fixed_paths = frozenset(fixed_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = self.metrics
        if metrics is None or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            with metrics.websockets.track_inprogress():  # as the gateway's socket path counts
                await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def counted_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counted_send)
        finally:
            route = self._route(scope)
            method: str = scope["method"]
            metrics.count_request(route, method, status, time.perf_counter() - started)
            if status == 429:
                metrics.rate_limited.labels(route).inc()
            elif 400 <= status < 500 and route.endswith("/login"):
                metrics.login_failures.inc()

    def _route(self, scope: Scope) -> str:
        route: Any = scope.get("route")
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
        if scope["path"] in self.fixed_paths:
            return str(scope["path"])
        return UNMATCHED
