"""The staff pages this round added, in headless Chromium: signed in through the login form,
looked at by axe-core (WCAG 2.2 AA) at desktop and phone widths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from engage.accounts.service import create_user
from engage.mail import emails
from engage.mail.service import queue_email
from engage.sending import outbox

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDTHS = (1280, 390)
# Set to a folder to keep a screenshot of each page at each width (to look at them).
SHOTS = os.environ.get("ENGAGE_SCREENSHOTS")


@pytest.fixture
def failed_mail(app, committed, tasks, smtp_server):
    """An admin, and one email the mail server refused for good, as staff would find them."""
    smtp_server.script("550 5.1.1 <reader@example.org> unknown user")
    with app.app_context():
        session = committed.session
        create_user(session, "admin@example.org", PASSWORD, "admin")
        queue_email("test_message", "reader@example.org", emails.test_message("x"))
        session.commit()
        session.remove()
    assert tasks.run() == ["engage.send_email"]
    with app.app_context():
        assert [row.recipient for row in outbox.failed_mail(committed.session)] == [
            "reader@example.org"
        ]
        committed.session.remove()


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.locator("#email").fill("admin@example.org")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/admin/")


@pytest.mark.parametrize("width", WIDTHS)
def test_staff_pages_pass_axe_and_fit_the_screen(live_server, browser_page, failed_mail, width):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server.url)
    axe = Axe()
    for path in ("/admin/", "/admin/mail/failed", "/admin/api-keys"):
        page.goto(live_server.url + path)
        if path == "/admin/":
            assert "1 email could not be sent" in page.content()
        if path == "/admin/mail/failed":
            assert "r•••@example.org" in page.content()
            assert "reader@example.org" not in page.content()
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
        assert results.violations_count == 0, f"{path}:\n{results.generate_report()}"
        scroll = page.evaluate("document.documentElement.scrollWidth")
        wide = page.evaluate(
            """w => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > w + 1)
                .filter(e => !e.closest('.table-scroll'))
                .slice(0, 5).map(e => e.tagName + '.' + e.className)""",
            width,
        )
        assert scroll <= width, f"{path} scrolls sideways at {width}px ({scroll}px): {wide}"
        if SHOTS:
            name = path.strip("/").replace("/", "-") or "admin"
            page.screenshot(path=str(Path(SHOTS) / f"{name}-{width}.png"), full_page=True)
