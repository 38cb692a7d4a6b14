"""Which ASGI app `mychat serve <service>` runs."""

from __future__ import annotations

from starlette.applications import Starlette

from mychat.settings import Settings


def app_for_service(service: str, settings: Settings) -> Starlette:
    if service == "all":
        from assembly.embedded import create_embedded_app

        return create_embedded_app(settings)
    if service == "auth":
        from auth_service.app import create_app as create_auth_app

        return create_auth_app(settings)
    if service == "chat":
        from chat_service.app import create_app as create_chat_app

        return create_chat_app(settings)
    if service == "gateway":
        from gateway.app import create_app as create_gateway_app

        return create_gateway_app(settings)
    raise ValueError(f"unknown service {service!r}")
