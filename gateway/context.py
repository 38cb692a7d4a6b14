"""The typed per-request (per WebSocket operation) context every resolver receives."""

from __future__ import annotations

import asyncio
import copy
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from graphql import DocumentNode
from starlette.websockets import WebSocket

from gateway.clients import (
    AccountClient,
    AuthClient,
    ChatClient,
    ChatData,
    InFlight,
    ServiceClient,
)
from gateway.connections import OpenConnections, SessionTouches
from gateway.expiries import TokenExpiries
from gateway.limits import GatewayLimits, SocketSlot
from gateway.loaders import Loaders
from gateway.presence import Presence, Seen
from gateway.read_marks import ReadMarks
from gateway.shared_events import SharedEvents, SubscriptionEvents
from gateway.transport import ServiceTransport
from mychat.broker import Broker
from mychat.tokens import InvalidToken, TokenClaims, TokenCodec

Client = TypeVar("Client", bound=ServiceClient)


@dataclass
class GatewayResources:
    """Owned by the app's lifespan: HTTP clients to the services, the broker, the token codec."""

    auth_http: ServiceTransport
    chat_http: ServiceTransport
    broker: Broker
    tokens: TokenCodec
    in_flight: InFlight = field(default_factory=set)
    shared_events: SharedEvents = field(default_factory=SharedEvents)
    limits: GatewayLimits = field(default_factory=GatewayLimits)
    connections: OpenConnections = field(default_factory=OpenConnections)
    expiries: TokenExpiries = field(default_factory=TokenExpiries)
    touches: SessionTouches = field(default_factory=SessionTouches)
    presence: Presence | None = None  # set by the app's lifespan
    read_marks: ReadMarks = field(init=False)
    # Names this process's WebSocket connections apart from every other gateway's (Context.origin).
    instance: str = field(default_factory=lambda: secrets.token_hex(6))
    connection_serials: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.read_marks = ReadMarks(self.chat_http, self.in_flight)


class Context:
    # A WebSocket holds one for the connection and a copy per operation (`for_operation`) for
    # its life: slots keep each at ~150 bytes instead of ~340 with an instance dict.
    __slots__ = (
        "_counted",
        "_loaders",
        "claims",
        "client_host",
        "connection_params",
        "connection_serial",
        "document",
        "over_http",
        "request_id",
        "resources",
        "socket_slot",
        "subscription_events",
        "token",
        "user_agent",
        "websocket",
    )

    def __init__(
        self,
        resources: GatewayResources,
        request_id: str,
        client_host: str | None = None,
        user_agent: str | None = None,
    ) -> None:
        self.resources = resources
        self.request_id = request_id
        # The caller's address, forwarded so auth_service limits logins per caller, not per
        # gateway; and its User-Agent, which names the device of a new session.
        self.client_host = client_host
        self.user_agent = user_agent
        # Whether this WebSocket's context counts as an open connection (sessions, presence).
        self._counted = False
        # The operation's parsed document, set before execution (gateway/schema.py): resolvers
        # that look ahead at their selection read it (gateway/queries.py).
        self.document: DocumentNode | None = None
        self.token: str | None = None
        self.claims: TokenClaims | None = None
        # Set by Strawberry from the WebSocket connection_init payload.
        self.connection_params: dict[str, Any] | None = None
        # Set for a WebSocket's context: its place in the per-user and per-address counts.
        self.socket_slot: SocketSlot | None = None
        self.over_http = True
        self.websocket: WebSocket | None = None
        self.connection_serial: int | None = None  # a WebSocket's, for `origin`
        # Built on first use (`loaders`): a WebSocket's context and each subscription's copy
        # of it need none while idle.
        self._loaders: Loaders | None = None
        # How a subscription operation's events are executed (set as graphql-core builds its
        # executor: its per-operation context), for writing them directly
        # (gateway/direct_delivery.py).
        self.subscription_events: SubscriptionEvents | None = None

    def authenticate(self, token: str | None) -> bool:
        """Verify the token locally (no round trip); remember it for forwarding."""
        self.token = self.claims = None
        if token is None:
            return False
        try:
            self.claims = self.resources.tokens.verify(token)
        except InvalidToken:
            return False
        self.token = token
        self.resources.touches.used(self.claims, self.account)
        return True

    @property
    def caller_key(self) -> str:
        """Whose budget this request spends: the user's, else the client address's."""
        if self.claims is not None:
            return f"user:{self.claims.user_id}"
        return f"address:{self.client_host or '-'}"

    def _call_slots(self) -> asyncio.Semaphore:
        return self.resources.limits.call_slots(self.caller_key)

    @property
    def viewer(self) -> TokenClaims | None:
        """The caller, while the token is valid and its session not signed out (WebSocket
        contexts outlive tokens)."""
        claims = self.claims
        if (
            claims is None
            or claims.expires_at <= datetime.now(UTC)
            or self.resources.tokens.is_revoked(claims)
        ):
            return None
        return claims

    async def presence_lookup(self, user_ids: list[int]) -> dict[int, Seen]:
        presence = self.resources.presence
        if presence is None:
            return {}
        return await presence.store.lookup(user_ids)

    def connection_opened(self) -> None:
        """The WebSocket was accepted with this token: count it open (once per connection)."""
        websocket, claims, token = self.websocket, self.claims, self.token
        if websocket is not None and claims is not None and token and not self._counted:
            self._counted = True
            self.resources.connections.opened(claims, token, websocket)
            if self.resources.tokens.is_revoked(claims):  # signed out meanwhile
                self.resources.connections.sessions_revoked([claims.session_id])

    def connection_closed(self) -> None:
        if self._counted and self.websocket is not None and self.claims is not None:
            self._counted = False
            self.resources.connections.closed(self.claims, self.websocket)

    def _client(self, kind: type[Client], transport: ServiceTransport) -> Client:
        return kind(
            transport,
            self.token,
            self.resources.in_flight,
            self.client_host,
            self._call_slots(),
            self.user_agent,
            self.request_id,
        )

    def auth(self) -> AuthClient:
        return self._client(AuthClient, self.resources.auth_http)

    def account(self) -> AccountClient:
        return self._client(AccountClient, self.resources.auth_http)

    def chat(self) -> ChatClient:
        return self._client(ChatClient, self.resources.chat_http)

    async def mark_read(self, chat_id: int, message_id: int) -> ChatData:
        """The caller's marker moved (gateway/read_marks.py gathers the gateway's marks)."""
        assert self.token is not None, "an authenticated caller"
        return await self.resources.read_marks.mark(self.token, chat_id, message_id, self.origin)

    @property
    def origin(self) -> str | None:
        """This WebSocket connection's name in the read markers it moves: their MessagesRead
        is not echoed to it (the markRead answer told it already). None over HTTP."""
        serial = self.connection_serial
        return None if serial is None else f"{self.resources.instance}.{serial}"

    @property
    def broker(self) -> Broker:
        return self.resources.broker

    @property
    def shared_events(self) -> SharedEvents:
        return self.resources.shared_events

    @property
    def loaders(self) -> Loaders:
        loaders = self._loaders
        if loaders is None:
            loaders = self._loaders = Loaders(self.chat, self.presence_lookup)
        return loaders

    def for_operation(self) -> Context:
        """A copy sharing the caller but with fresh loaders (one per WebSocket operation)."""
        fresh = copy.copy(self)
        fresh._loaders = None
        return fresh

    def reset_loaders(self) -> None:
        self._loaders = None
