"""The staff email-notices page in headless Chromium: signed in through the login form,
saved with the keyboard-free path a browser without JS takes, looked at by axe-core (WCAG 2.2
AA) at desktop and phone widths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from engage.accounts import notifications
from engage.accounts.models import User
from engage.accounts.service import create_user

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SHOTS = os.environ.get("ENGAGE_SCREENSHOTS")


@pytest.fixture
def admin(app, committed):
    with app.app_context():
        create_user(committed.session, "admin@example.org", PASSWORD, "admin")
        committed.session.commit()
        committed.session.remove()


@pytest.mark.parametrize("width", (1280, 390))
def test_the_notices_page_passes_axe_fits_and_saves(
    app, committed, live_server, browser_page, admin, width
):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/login")
    page.locator("#email").fill("admin@example.org")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Your email notices").click()
    page.wait_for_url(f"{live_server.url}/admin/account/notifications")

    group = page.get_by_role("group", name="Email that could not be sent")
    assert group.get_by_role("radio", name="Once a day, in one email (the default)").is_checked()
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    assert results.violations_count == 0, results.generate_report()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"notices-{width}.png"), full_page=True)

    page.get_by_role("group", name="New groups and events waiting for review").get_by_role(
        "radio", name="At once, one email each"
    ).check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{live_server.url}/admin/account/notifications")
    assert "Saved: your email notices are set." in page.content()
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"notices-saved-{width}.png"), full_page=True)
    with app.app_context():
        user = committed.session.query(User).filter_by(email="admin@example.org").one()
        assert notifications.choices_of(committed.session, user)["submissions"] == "immediate"
        committed.session.remove()
