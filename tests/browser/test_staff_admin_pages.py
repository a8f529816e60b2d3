"""/admin/staff, the invitation page and the two-factor pages in headless Chromium: used as a
person would, and looked at by axe-core (WCAG 2.2 AA) at desktop and phone widths."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe

from engage.accounts import staff
from engage.accounts.models import User
from engage.accounts.service import create_user

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDTHS = (1280, 390)
# Set to a folder to keep a screenshot of each page at each width (to look at them).
SHOTS = os.environ.get("ENGAGE_SCREENSHOTS")


@pytest.fixture
def invitation(app, committed):
    """An admin, an editor, and a pending invitation; yields the invitation's path."""
    with app.app_context():
        session = committed.session
        create_user(session, "admin@example.org", PASSWORD, "admin", "Alex Admin")
        create_user(session, "eda@example.org", PASSWORD, "editor", "Eda")
        user = staff.invite(session, "robin@example.org", "Robin", "moderator")
        session.commit()
        path = f"/staff/invite/{staff.invite_token(user)}"
        session.remove()
    return path


def check(page, name: str, width: int) -> None:
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    assert results.violations_count == 0, f"{name}:\n{results.generate_report()}"
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{name} scrolls sideways at {width}px ({scroll}px)"
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}-{width}.png"), full_page=True)


def sign_in(page, base: str, email: str = "admin@example.org") -> None:
    page.goto(f"{base}/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize("width", WIDTHS)
def test_staff_and_invitation_pages(app, committed, live_server, browser_page, invitation, width):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    base = live_server.url

    page.goto(base + invitation)
    assert "Choose your password" in page.content()
    check(page, "staff-invite-accept", width)
    page.locator("#password").fill("short")
    page.locator("#confirm").fill("short")
    page.get_by_role("button", name="Set my password").click()
    assert "at least 12 characters" in page.content()
    check(page, "staff-invite-error", width)

    sign_in(page, base)
    page.wait_for_url(f"{base}/admin/")
    page.get_by_role("link", name="Staff").click()
    page.wait_for_url(f"{base}/admin/staff")
    check(page, "staff", width)
    page.locator("#invite-email").fill("sam@example.org")
    page.locator("#invite-name").fill("Sam")
    page.get_by_role("button", name="Send the invitation").click()
    assert "Invited sam@example.org" in page.content()
    page.get_by_role("button", name="Deactivate eda@example.org").click()
    assert "Deactivated eda@example.org" in page.content()
    check(page, "staff-after-actions", width)
    with app.app_context():
        eda = committed.session.query(User).filter_by(email="eda@example.org").one()
        assert eda.active is False
        committed.session.remove()


@pytest.mark.parametrize("width", WIDTHS)
def test_two_factor_pages(app, committed, live_server, browser_page, invitation, width):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    base = live_server.url
    sign_in(page, base)
    page.wait_for_url(f"{base}/admin/")
    page.get_by_role("link", name="Two-factor sign-in").click()
    check(page, "staff-2fa-off", width)
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    secret = page.locator("#totp-secret").inner_text()
    assert page.locator(".totp-qr svg").count() == 1
    check(page, "staff-2fa-setup", width)
    totp = pyotp.TOTP(secret)
    page.locator("#code").fill(totp.now())
    page.get_by_role("button", name="Turn two-factor sign-in on").click()
    assert page.locator(".recovery-codes li").count() == 10
    check(page, "staff-2fa-codes", width)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, base)
    page.wait_for_url(f"{base}/login/code")
    check(page, "staff-2fa-code-step", width)
    with app.app_context():
        used = committed.session.query(User).filter_by(email="admin@example.org").one()
        counter = used.totp_last_counter
        committed.session.remove()
    page.locator("#code").fill(totp.generate_otp(counter + 1))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/admin/")
    assert re.search(r"Two-factor sign-in</a> \(on\)", page.content())
