"""The typed per-request (per WebSocket operation) context every resolver receives."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.websockets import WebSocket

from gateway.clients import AuthClient, ChatClient, InFlight
from gateway.limits import GatewayLimits, SocketSlot
from gateway.loaders import Loaders
from gateway.shared_events import SharedEvents
from gateway.transport import ServiceTransport
from mychat.broker import Broker
from mychat.tokens import InvalidToken, TokenClaims, TokenCodec


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


class Context:
    def __init__(
        self, resources: GatewayResources, request_id: str, client_host: str | None = None
    ) -> None:
        self.resources = resources
        self.request_id = request_id
        # The caller's address, forwarded so auth_service limits logins per caller, not per
        # gateway.
        self.client_host = client_host
        self.token: str | None = None
        self.claims: TokenClaims | None = None
        # Set by Strawberry from the WebSocket connection_init payload.
        self.connection_params: dict[str, Any] | None = None
        # Set for a WebSocket's context: its place in the per-user and per-address counts.
        self.socket_slot: SocketSlot | None = None
        self.over_http = True
        self.websocket: WebSocket | None = None
        self.loaders = Loaders(self.auth, self.chat)

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
        """The caller, while the token is still valid (WebSocket contexts outlive tokens)."""
        if self.claims is None or self.claims.expires_at <= datetime.now(UTC):
            return None
        return self.claims

    def auth(self) -> AuthClient:
        return AuthClient(
            self.resources.auth_http,
            self.token,
            self.resources.in_flight,
            self.client_host,
            self._call_slots(),
            self.request_id,
        )

    def chat(self) -> ChatClient:
        return ChatClient(
            self.resources.chat_http,
            self.token,
            self.resources.in_flight,
            self.client_host,
            self._call_slots(),
            self.request_id,
        )

    @property
    def broker(self) -> Broker:
        return self.resources.broker

    @property
    def shared_events(self) -> SharedEvents:
        return self.resources.shared_events

    def for_operation(self) -> Context:
        """A copy sharing the caller but with fresh loaders (one per WebSocket operation)."""
        fresh = copy.copy(self)
        fresh.loaders = Loaders(fresh.auth, fresh.chat)
        return fresh

    def reset_loaders(self) -> None:
        self.loaders = Loaders(self.auth, self.chat)
