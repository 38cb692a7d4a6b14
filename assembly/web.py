"""The built single-page app (web/dist) at `/`: SPA fallback, cache headers and a strict CSP."""

from __future__ import annotations

from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mychat.pages import NO_CACHE, REPO_WEB_DIST, SECURITY_HEADERS
from mychat.settings import Settings

# Vite puts a content hash in every file name under assets/: they never change.
IMMUTABLE = "public, max-age=31536000, immutable"
NOT_BUILT = "web app not built: run `make install`\n"


class WebApp:
    """Serves files from a Vite build; unknown non-asset paths get index.html (client routing)."""

    def __init__(self, dist: Path) -> None:
        self.dist = dist.resolve()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return
        response = self._respond(scope)
        response.headers.update(SECURITY_HEADERS)
        await response(scope, receive, send)

    def _respond(self, scope: Scope) -> Response:
        method: str = scope["method"]
        if method not in ("GET", "HEAD"):
            return PlainTextResponse(
                "method not allowed\n", status_code=405, headers={"allow": "GET, HEAD"}
            )
        index = self.dist / "index.html"
        if not index.is_file():
            return PlainTextResponse(
                NOT_BUILT, status_code=503, headers={"cache-control": NO_CACHE}
            )
        path: str = scope["path"]
        file = self._file_for(path)
        if file is not None and file != index:
            cache = IMMUTABLE if path.startswith("/assets/") else "public, max-age=3600"
            return FileResponse(file, headers={"cache-control": cache})
        if path.startswith("/assets/"):
            return PlainTextResponse("not found\n", status_code=404)
        return FileResponse(index, media_type="text/html", headers={"cache-control": NO_CACHE})

    def _file_for(self, path: str) -> Path | None:
        """The file under dist for this URL path, or None (never anything outside dist)."""
        relative = path.lstrip("/")
        if not relative or "\x00" in relative:
            return None
        candidate = (self.dist / relative).resolve()
        if not candidate.is_relative_to(self.dist) or not candidate.is_file():
            return None
        return candidate


def create_web_app(settings: Settings) -> ASGIApp:
    """The web app for `mychat serve`; answers 503 until `web/dist` is built. Compressed for
    clients that accept gzip (the script bundle shrinks to about a third)."""
    return GZipMiddleware(WebApp(settings.web_dist or REPO_WEB_DIST), minimum_size=1024)
