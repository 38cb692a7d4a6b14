"""The OpenAPI 3.1 document of the REST API, kept in mychat/openapi.json and served as is."""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

OPENAPI_PATH = "/mychat/api/openapi.json"


def load_openapi_document() -> bytes:
    return resources.files("mychat").joinpath("openapi.json").read_bytes()


def openapi_route() -> Route:
    """GET OPENAPI_PATH; the file is read once, when the app is built."""
    document = load_openapi_document()

    async def openapi(_request: Request) -> Response:
        return Response(document, media_type="application/json")

    return Route(OPENAPI_PATH, openapi, methods=["GET"])
