"""Chromium for Playwright, the built web app, and where browser tests leave pictures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.async_api import ConsoleMessage, Page

from tests.support.env import ROOT

DEFAULT_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WEB_DIST = ROOT / "web" / "dist"
# Ignored by git: what failed tests leave behind, and the screens the tests take.
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
# Tracked: the README's pictures, refreshed on purpose by `make screenshots`.
README_SCREENSHOTS = ROOT / "web" / "screenshots"


def find_chromium() -> Path | None:
    """MYCHAT_CHROMIUM if set (and only it), else Debian's /usr/bin/chromium or one on PATH."""
    configured = os.environ.get("MYCHAT_CHROMIUM")
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    if DEFAULT_CHROMIUM.is_file():
        return DEFAULT_CHROMIUM
    found = shutil.which("chromium")
    return Path(found) if found else None


def record_csp_violations(page: Page) -> list[str]:
    """Content Security Policy complaints (console messages) of the page and of every page it
    opens (its browser context), as they come."""
    violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.context.on("console", on_console)
    return violations
