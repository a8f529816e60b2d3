"""An organiser suggests a group, confirms by email, an editor approves it and it shows in the
directory, in headless Chromium. The emails go through the real broker to the real SMTP server."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engage.accounts.service import create_api_key, create_user
from engage.community.models import SupportGroup
from engage.extensions import limiter
from engage.types import utcnow
from tests.digests.conftest import add_reader
from tests.support.tasks import run_queued

pytestmark = pytest.mark.browser

SCREENSHOTS = os.environ.get("ENGAGE_SCREENSHOT_DIR", "")
BASE_URL = "http://engage.test"
CONFIRM_LINK = re.compile(r"http://engage\.test/community/confirm/[A-Za-z0-9_.\-]+")
PASSWORD = "correct horse battery staple"


@pytest.fixture
def editor(app, committed):
    with app.app_context():
        limiter.reset()
        session = committed.session
        create_user(session, "editor@example.org", PASSWORD, "editor", "Eda")
        session.commit()
        session.remove()


def group_row(app) -> dict:
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        try:
            group = session.scalar(select(SupportGroup))
            assert group is not None
            return {
                "status": group.status,
                "confirmed": group.organiser_confirmed_at is not None,
                "approved_at": group.approved_at,
                "slug": group.slug,
            }
        finally:
            session.remove()


def test_an_organiser_submits_a_group_and_an_editor_lists_it(
    queue_live_server, queue_app, browser_page, editor, app, smtp_server
):
    page = browser_page.page
    base = queue_live_server.url

    page.goto(f"{base}/groups")
    page.get_by_role("link", name="Suggest it for the directory").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Suggest a support group")
    page.get_by_label("Name of the group").fill("Harbour Lights Anxiety Group")
    page.get_by_label("About the group").fill("Adults living with anxiety, meeting by the sea.")
    page.get_by_role("checkbox", name="Anxiety", exact=True).check()
    page.get_by_role("radio", name="In person").check()
    page.get_by_label("Region").fill("South West England")
    page.get_by_label("City or town").fill("Plymouth")
    page.get_by_label("When it meets").fill("Wednesdays, 6.30pm")
    page.get_by_role("radio", name="Peer-led").check()
    page.get_by_label("Contact", exact=True).fill("harbour-lights@example.org")
    page.get_by_label("Your email address").fill("organiser@example.org")
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/community-submit.png", full_page=True)
    page.get_by_role("button", name="Send for review").click()
    page.wait_for_url(f"{base}/community/check-your-email")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")

    # The confirmation email, through the broker, to the real SMTP server.
    assert run_queued(queue_app) == ["engage.send_email"]
    [confirmation] = smtp_server.wait_for(1)
    assert confirmation.rcpt_tos == ["organiser@example.org"]
    text = confirmation.message.get_body(("plain",)).get_content()
    page.goto(CONFIRM_LINK.search(text).group(0).replace(BASE_URL, base, 1))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your listing")
    assert group_row(app)["confirmed"] is False  # opening the link changes nothing
    page.get_by_role("button", name="Yes, confirm my listing").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("your listing is confirmed")
    row = group_row(app)
    assert row["confirmed"] is True and row["status"] == "pending"  # still waits for an editor

    # Not public yet.
    page.goto(f"{base}/groups")
    expect(page.get_by_text("Harbour Lights Anxiety Group")).to_have_count(0)

    # The editor signs in and approves it.
    page.goto(f"{base}/login?next=/admin/community")
    page.locator("#email").fill("editor@example.org")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Support groups and events")
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/community-review.png", full_page=True)
    page.get_by_role("button", name="Approve “Harbour Lights Anxiety Group”").click()
    expect(page.get_by_text("Listed “Harbour Lights Anxiety Group”.")).to_be_visible()
    row = group_row(app)
    assert row["status"] == "approved" and row["approved_at"] is not None

    smtp_server.reset()
    assert run_queued(queue_app) == ["engage.send_email"]
    [approved] = smtp_server.wait_for(1)
    assert "live" in approved.message["Subject"]

    # It shows in the directory, filtered by what it is for.
    page.goto(f"{base}/groups")
    page.get_by_label("What for").select_option("anxiety")
    page.get_by_role("button", name="Show groups").click()
    page.get_by_role("link", name="Harbour Lights Anxiety Group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Harbour Lights Anxiety Group")
    expect(page.get_by_text("complement, not replace, professional care")).to_be_visible()
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/community-group.png", full_page=True)

    # And the next digest lists it: a reader who confirmed last week, with a weekly digest,
    # gets it when an editor runs the digests through the API.
    with queue_app.app_context():
        session = queue_app.extensions["sqlalchemy"].session
        try:
            add_reader(session, "weekly", confirmed_at=utcnow() - timedelta(days=6))
            _, key = create_api_key(session, "digests", "editor")
            session.commit()
        finally:
            session.remove()
    smtp_server.reset()
    answer = queue_app.test_client().post(
        "/api/v1/digests/run",
        json={"frequency": "weekly"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["queued"] == 1
    assert "engage.digests.send_batch" in run_queued(queue_app)
    [digest] = smtp_server.wait_for(1)
    assert digest.rcpt_tos[0].startswith("digest-reader-")
    text = digest.message.get_body(("plain",)).get_content()
    assert "Harbour Lights Anxiety Group" in text
    assert f"{BASE_URL}/groups/{row['slug']}" in text
