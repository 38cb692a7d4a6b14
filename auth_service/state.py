"""What the auth app keeps beside the shared service resources (built by create_app)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from auth_service.passwords import Passwords
from auth_service.ratelimits import AttemptLimits
from mychat.broker import Broker


@dataclass(frozen=True, slots=True)
class AuthState:
    passwords: Passwords
    limits: AttemptLimits
    broker: Broker  # account events: sessions revoked, accounts deleted


def auth_state(request: Request) -> AuthState:
    state: AuthState = request.app.state.auth
    return state
