"""axe-core (the npm package pinned in web/package-lock.json) run inside the page: the
accessibility rules of WCAG 2.1 A and AA, contrast included."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

from tests.support.env import ROOT, require

AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")


async def axe_violations(
    page: Page, *, exclude: tuple[str, ...] = (), disable: tuple[str, ...] = ()
) -> list[str]:
    """Serious and critical violations on the page as it is now, one line each; `exclude`
    leaves out elements (CSS selectors), `disable` rules (for third-party widgets)."""
    require(AXE.is_file(), "axe-core is not installed: run `make install` (npm ci in web/)")
    # evaluate runs outside the page's CSP, which would refuse an injected <script>.
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(AXE.read_text())
    context = {"exclude": [[selector] for selector in exclude]} if exclude else "html"
    options = {
        "runOnly": {"type": "tag", "values": WCAG},
        "resultTypes": ["violations"],
        "rules": {rule: {"enabled": False} for rule in disable},
    }
    result: dict[str, Any] = await page.evaluate(
        "([context, options]) => window.axe.run(context, options)", [context, options]
    )
    return [
        f"{violation['id']} ({violation['impact']}): "
        + "; ".join(
            f"{' '.join(node['target'])} {node.get('failureSummary', '')[:200]}"
            for node in violation["nodes"][:5]
        )
        for violation in result["violations"]
        if violation["impact"] in BLOCKING
    ]
