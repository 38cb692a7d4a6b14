"""The auth_service app factory."""

from __future__ import annotations

from starlette.applications import Starlette

from auth_service.passwords import HashParameters, Passwords
from auth_service.ratelimits import AttemptLimits
from auth_service.routes import auth_routes
from auth_service.state import AuthState
from mychat.openapi import openapi_route
from mychat.service import create_service_app
from mychat.settings import Settings


def create_app(
    settings: Settings,
    *,
    embedded: bool = False,
    hash_parameters: HashParameters | None = None,
) -> Starlette:
    """Users, passwords and tokens; also serves the REST API's OpenAPI document."""
    app = create_service_app(settings, [*auth_routes(), openapi_route()], embedded=embedded)
    app.state.auth = AuthState(
        passwords=Passwords(hash_parameters),
        limits=AttemptLimits(settings.login_rate_per_minute),
    )
    return app
