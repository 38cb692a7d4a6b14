"""Limits for `mychat serve` when it faces clients directly (nginx does this in the topology).

uvicorn with httptools caps neither the size of a request's headers nor the time a client may
take to send them, and keeps any number of connections: 20,000 slow partial requests
(slowloris) took every file descriptor, and 40 MB headers were read into memory. `guarded_http`
makes uvicorn's own HTTP protocol (the `http=` option takes a class) refuse, per connection:

- headers (request line included) over `max_header_bytes`: 431, then close;
- headers not complete within `header_timeout` of the connection or of the request's first
  byte: 408, then close (an idle keep-alive connection is uvicorn's `timeout_keep_alive`);
- a connection beyond `max_connections` in all or `connections_per_address` from one address:
  closed at once. Addresses trusted to forward (`FORWARDED_ALLOW_IPS`: nginx, the gateway)
  are not counted per address, since every client arrives through them.

A connection upgraded to a WebSocket leaves the per-address count (the gateway limits sockets
per address and per user itself) but stays in the total, which is uvicorn's own connection set.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mychat.settings import Settings
from mychat.ws_protocol import LeanHttpProtocol


@dataclass
class ServeLimits:
    max_header_bytes: int = 16 * 1024
    header_timeout: float = 10.0
    max_connections: int = 10_000
    connections_per_address: int = 128
    by_address: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_settings(cls, settings: Settings) -> ServeLimits:
        return cls(
            max_header_bytes=settings.serve_max_header_bytes,
            header_timeout=settings.serve_header_timeout_seconds,
            max_connections=settings.serve_max_connections,
            connections_per_address=settings.serve_connections_per_address,
        )


def _response(status: bytes) -> bytes:
    return b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


TOO_LARGE = _response(b"431 Request Header Fields Too Large")
TIMED_OUT = _response(b"408 Request Timeout")
LINGER_SECONDS = 1.0


class GuardedHttpProtocol(LeanHttpProtocol):
    """uvicorn's httptools protocol (freed on a WebSocket upgrade: mychat/ws_protocol.py) with
    the limits above (`limits` set by guarded_http)."""

    limits: ServeLimits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._address: str | None = None  # counted per address while set
        self._awaiting_headers = True
        self._header_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limits = self.limits
        address = self.client[0] if self.client else "-"
        trusted = self.config.forwarded_allow_ips
        counted = not (trusted == "*" or address in _addresses(trusted))
        if len(self.connections) > limits.max_connections or (
            counted and limits.by_address[address] >= limits.connections_per_address
        ):
            transport.abort()
            return
        if counted:
            limits.by_address[address] += 1
            self._address = address
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        self._uncount()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        counting = self._awaiting_headers
        super().data_received(data)
        if counting and self._awaiting_headers:
            self._header_bytes += len(data)
            if self._header_bytes > self.limits.max_header_bytes:
                self._refuse(TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_headers = True
        self._header_bytes = 0
        if self._header_timer is None:
            self._start_header_timer()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._stop_header_timer()
        super().on_headers_complete()

    def handle_websocket_upgrade(self) -> None:
        self._uncount()
        super().handle_websocket_upgrade()

    def _start_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(
            self.limits.header_timeout, self._refuse, TIMED_OUT
        )

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _refuse(self, response: bytes) -> None:
        """Answer and close. Whatever the client still sends is read and dropped for a moment
        (closing with unread data would reset the connection before the answer is read)."""
        self._stop_header_timer()
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        self.transport.write(response)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _uncount(self) -> None:
        if self._address is not None:
            self.limits.by_address[self._address] -= 1
            if self.limits.by_address[self._address] <= 0:
                del self.limits.by_address[self._address]
            self._address = None


def _addresses(trusted: list[str] | str) -> set[str]:
    values = trusted.split(",") if isinstance(trusted, str) else trusted
    return {value.strip() for value in values}


def guarded_http(limits: ServeLimits) -> type[GuardedHttpProtocol]:
    """The protocol class to pass as uvicorn's `http=` option, bound to these limits."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"limits": limits})
