"""The built web pages (web/dist): where they are and the headers they are served with. Shared
by the web app (assembly/web.py) and the gateway, which serves the GraphiQL page."""

from __future__ import annotations

from pathlib import Path

REPO_WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
NO_CACHE = "no-cache"

# One policy for every page (the app and GraphiQL, which the gateway serves): only the page's
# own files; GraphiQL's bundled fonts are data: URLs and Monaco's workers are files under
# /assets/ (default-src 'self' covers workers).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "font-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# GraphiQL's editor (Monaco) writes style attributes and <style> elements as it renders; its
# page allows inline styles, never inline scripts.
GRAPHIQL_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
GRAPHIQL_SECURITY_HEADERS = {
    **SECURITY_HEADERS,
    "content-security-policy": GRAPHIQL_CONTENT_SECURITY_POLICY,
}
