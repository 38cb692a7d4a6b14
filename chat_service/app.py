"""The chat_service app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from chat_service.deleted_accounts import deleted_accounts_followed
from chat_service.endpoints import ChatResources, ChatServiceState
from chat_service.indexing import SearchIndexer
from chat_service.internal_api import internal_routes
from chat_service.loop_reads import LoopReader
from chat_service.public_api import public_routes
from chat_service.read_markers import ReadMarkers
from chat_service.sending import Sender
from chat_service.typing import TYPING_PER_MINUTE
from mychat.broker import Broker
from mychat.broker.factory import create_broker
from mychat.db import create_autocommit_engine, create_loop_read_engine
from mychat.ratelimit import RateLimiter
from mychat.service import ServiceResources, create_service_app
from mychat.settings import Settings

SEND_RATE_WINDOW_SECONDS = 60.0


def create_app(
    settings: Settings, *, broker: Broker | None = None, embedded: bool = False
) -> Starlette:
    """The chat service; a broker passed in belongs to the caller, one made here to the app."""
    # The chat service publishes chat events and hears only account events (sign-outs,
    # deleted accounts): it never reads back the chat events it sends.
    app_broker = create_broker(settings, accounts_only=True) if broker is None else broker

    @asynccontextmanager
    async def chat_lifespan(res: ServiceResources) -> AsyncIterator[None]:
        # Two engines: res.engine runs units of work (writes); this one runs what needs no
        # implicit transaction, so no ROLLBACK when a connection goes back to the pool:
        # single-statement reads, and the sends, whose transactions are explicit (sending.py).
        autocommit_engine = create_autocommit_engine(settings)
        indexer = SearchIndexer(autocommit_engine)
        indexer.start()
        sender = Sender(autocommit_engine, app_broker, indexer)
        read_markers = ReadMarkers(res.engine, app_broker)
        loop_reader = LoopReader.open(autocommit_engine)
        loop_read_engine = create_loop_read_engine(settings)
        # `app` is assigned below.
        app.state.chat_res = ChatResources(
            autocommit_engine, sender, read_markers, indexer, loop_reader, loop_read_engine
        )
        if app.state.metrics is not None:
            app.state.metrics.watch_pool("autocommit", autocommit_engine)
            app.state.metrics.watch_broker(app_broker)
        try:
            async with deleted_accounts_followed(app_broker, res.engine):
                yield
        finally:
            # Both publish what they store: before the broker closes.
            await read_markers.close()
            await sender.close()
            await indexer.close()  # after the sender: it hands over what it stored
            await autocommit_engine.dispose()
            if loop_reader is not None:
                loop_reader.close()
            if loop_read_engine is not None:
                await loop_read_engine.dispose()

    app = create_service_app(
        settings,
        [*public_routes(), *internal_routes()],
        embedded=embedded,
        broker=app_broker,
        owns_broker=broker is None,
        extra_lifespan=chat_lifespan,
        readiness_checks=[app_broker.check],
        sqlite_write_lock_at_begin=True,  # its units of work write (mychat.db.create_engine)
    )
    app.state.chat = ChatServiceState(
        broker=app_broker,
        send_limiter=RateLimiter(settings.send_rate_per_minute, SEND_RATE_WINDOW_SECONDS),
        chat_limiter=RateLimiter(settings.chat_create_rate_per_minute, SEND_RATE_WINDOW_SECONDS),
        member_limiter=RateLimiter(settings.member_add_rate_per_minute, SEND_RATE_WINDOW_SECONDS),
        typing_limiter=RateLimiter(TYPING_PER_MINUTE, SEND_RATE_WINDOW_SECONDS),
    )
    return app
