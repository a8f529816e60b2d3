"""The preview page's Gmail clipping warning, in headless Chromium at desktop and phone widths,
checked by axe-core (WCAG 2.2 AA)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from engage.accounts.service import create_user
from tests.newsletters_ui.conftest import PASSWORD, build_newsletter, build_topics

pytestmark = pytest.mark.browser

WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# Set to a folder to keep a screenshot of the page at each width (to look at it).
SHOTS = os.environ.get("ENGAGE_SCREENSHOTS")
PARAGRAPH = "A long paragraph about what happened at the groups this month. " * 8


@pytest.fixture
def big_newsletter(app, committed) -> int:
    """An editor, and a draft whose HTML is well past Gmail's 102 KB."""
    with app.app_context():
        session = committed.session
        create_user(session, "editor@example.org", PASSWORD, "editor", "Eda")
        topics = build_topics(session)
        body = "\n\n".join([PARAGRAPH] * 250)
        newsletter = build_newsletter(
            session, [topics["newsletter"]], subject="A very long letter", body_markdown=body
        )
        session.commit()
        newsletter_id = newsletter.id
        session.remove()
    return newsletter_id


@pytest.mark.parametrize("width", (1280, 390))
def test_the_preview_warns_before_gmail_clips_the_email(
    live_server, browser_page, big_newsletter, width
):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/login")
    page.locator("#email").fill("editor@example.org")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}/admin/newsletters/{big_newsletter}/preview")
    warning = page.get_by_role("alert")
    expect(warning).to_contain_text("Gmail will cut this email short.")
    expect(warning).to_contain_text("Gmail shows only the first 102 KB")
    # The warning comes before the button that sends a test and the previews.
    box = warning.bounding_box()
    assert box["y"] < page.get_by_role("button", name="Send a test to me").bounding_box()["y"]
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    assert results.violations_count == 0, results.generate_report()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"preview-clipped-{width}.png"), full_page=False)
