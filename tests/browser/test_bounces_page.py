"""The send's report with its bounces and complaints, in headless Chromium: signed in through
the login form, looked at by axe-core (WCAG 2.2 AA) at desktop and phone widths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from engage.accounts.service import create_user
from engage.sending import bounces
from engage.sending.bounces import BounceReport
from engage.sending.verp import VerpToken
from engage.types import utcnow
from tests.browser.test_staff_pages import PASSWORD, WCAG_AA, WIDTHS, sign_in
from tests.newsletters_ui.conftest import (
    build_deliveries,
    build_newsletter,
    build_subscriber,
    build_topics,
)

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("ENGAGE_SCREENSHOTS")


@pytest.fixture
def sent_with_bounces(app, committed):
    """A sent newsletter: one hard bounce, two soft, one complaint, reported after sending."""
    with app.app_context():
        session = committed.session
        create_user(session, "admin@example.org", PASSWORD, "admin")
        topic = build_topics(session)["newsletter"]
        readers = [build_subscriber(session, [topic]) for _ in range(6)]
        newsletter = build_newsletter(
            session, [topic], status="sent", started_at=utcnow(), finished_at=utcnow()
        )
        rows = build_deliveries(session, newsletter, readers, ["sent"] * 6)
        for row, kind, status in (
            (rows[0], "hard", "5.1.1"),
            (rows[1], "soft", "4.2.2"),
            (rows[2], "hard", "5.7.1"),
            (rows[3], "complaint", ""),
        ):
            token = VerpToken("d", row.id)
            bounces.apply(session, BounceReport(kind, None, token, status, source="dsn"))
        session.commit()
        newsletter_id = newsletter.id
        session.remove()
    return newsletter_id


@pytest.mark.parametrize("width", WIDTHS)
def test_the_report_shows_bounces_and_passes_axe(
    live_server, browser_page, sent_with_bounces, width
):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/newsletters/{sent_with_bounces}")
    section = page.locator("section.nl-bounces")
    assert section.get_by_role("heading", name="Bounces and complaints").is_visible()
    assert section.locator('[data-figure="hard-bounces"]').inner_text() == "1"
    assert section.locator('[data-figure="soft-bounces"]').inner_text() == "2"
    assert section.locator('[data-figure="complaints"]').inner_text() == "1"
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    assert results.violations_count == 0, results.generate_report()
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the report scrolls sideways at {width}px ({scroll}px)"
    if SHOTS:
        shot = Path(SHOTS) / f"newsletter-report-bounces-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
