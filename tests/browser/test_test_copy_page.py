"""The page a test copy's unsubscribe and preferences links open, in headless Chromium:
axe-core (WCAG 2.2 AA) at desktop and phone widths, and nothing scrolls sideways."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

pytestmark = pytest.mark.browser

WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SHOTS = os.environ.get("ENGAGE_SCREENSHOTS")


@pytest.mark.parametrize("width", (1280, 390))
def test_the_test_copy_page_passes_axe_and_fits_the_screen(live_server, browser_page, width):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    for kind in ("unsubscribe", "preferences"):
        page.goto(f"{live_server.url}/newsletters/test-copy/{kind}")
        assert page.get_by_role("heading", name="This link came from a test copy").is_visible()
        assert "Nothing has changed" in page.content()
        results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
        assert results.violations_count == 0, results.generate_report()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / f"test-copy-{kind}-{width}.png"), full_page=True)
