"""The auth_service app factory."""

from __future__ import annotations

from starlette.applications import Starlette

from auth_service.passwords import HashParameters, Passwords
from auth_service.ratelimits import AttemptLimits
from auth_service.routes import auth_routes
from auth_service.state import AuthState
from mychat.broker import Broker
from mychat.broker.factory import create_broker
from mychat.openapi import openapi_route
from mychat.service import create_service_app
from mychat.settings import Settings


def create_app(
    settings: Settings,
    *,
    embedded: bool = False,
    hash_parameters: HashParameters | None = None,
    broker: Broker | None = None,
) -> Starlette:
    """Users, passwords, sessions and tokens; also serves the REST API's OpenAPI document.

    It publishes account events (sessions signed out, accounts deleted) and hears only those;
    a broker passed in belongs to the caller, one made here to the app.
    """
    app_broker = create_broker(settings, accounts_only=True) if broker is None else broker
    app = create_service_app(
        settings,
        [*auth_routes(), openapi_route()],
        embedded=embedded,
        broker=app_broker,
        owns_broker=broker is None,
        readiness_checks=[app_broker.check],
    )
    app.state.auth = AuthState(
        passwords=Passwords(hash_parameters),
        limits=AttemptLimits(settings.login_rate_per_minute),
        broker=app_broker,
    )
    return app
