"""The staff dashboard in headless Chromium with ninety days of made-up growth: axe-core
(WCAG 2.2 AA) at desktop and phone widths, nothing wider than the screen, no request leaves
the site."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from engage.accounts.service import create_user
from engage.stats import rollup
from engage.types import utcnow
from tests.stats import history, made_up

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# Set to a folder to keep a screenshot at each width (to look at them).
SHOTS = os.environ.get("ENGAGE_SCREENSHOTS")


@pytest.fixture
def busy_desk(app, committed):
    with app.app_context():
        session = committed.session
        now = utcnow()
        made_up.ninety_days(session, now)
        history.waiting_work(session, now)
        rollup.rebuild(session, now=now)
        create_user(session, "editor@example.org", PASSWORD, "admin")
        session.commit()
        session.remove()


@pytest.mark.parametrize("width", (1280, 390))
def test_the_dashboard_passes_axe_fits_the_screen_and_stays_on_the_site(
    live_server, browser_page, busy_desk, width
):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/login")
    page.locator("#email").fill("editor@example.org")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/admin/")

    assert page.get_by_role("img", name="Net subscriber growth per day").count() == 1
    assert page.get_by_role("img", name="Outcomes of the latest 4 sends").count() == 1
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"admin-{width}.png"), full_page=True)
        for section in ("dash-growth", "dash-sends"):
            page.locator(f"section[aria-labelledby={section}]").screenshot(
                path=str(Path(SHOTS) / f"admin-{width}-{section}.png")
            )
    page.locator("summary", has_text="Each day's numbers").click()  # the table opens for everyone
    assert page.locator("#dash-growth-table tbody tr").count() == 90

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    assert results.violations_count == 0, results.generate_report()
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"/admin/ scrolls sideways at {width}px ({scroll}px)"
    assert all(url.startswith(live_server.url) for url in browser_page.requests)
