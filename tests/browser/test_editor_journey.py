"""The editor's desk end to end in headless Chromium, clicked through as a person would.

An admin invites an editor (the invitation goes through the outbox to the SMTP server); the
editor sets a password, turns on two-factor sign-in and signs in again with a code, imports
500 readers (3 of them bad), finds one by how the address starts, sends a newsletter through
the confirmation step and reads the send's report, and checks that the dashboard's growth
chart draws the numbers of its table. A thread plays the worker and beat
(`PipelineRunner`): every task goes through the real broker to the real code.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import expect

from engage.accounts.models import User
from engage.accounts.service import create_user
from engage.subscriptions.models import Topic
from tests.newsletters_ui.conftest import build_subscriber
from tests.newsletters_ui.test_browser import PipelineRunner
from tests.support.tasks import run_queued

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "the admin's long password"
EDITOR_PASSWORD = "the editor's long password"
# Set to a folder to keep a screenshot of each step (to look at them).
SHOTS = os.environ.get("ENGAGE_SCREENSHOTS")
WAIT = 60_000  # ms: generous, for a loaded machine; every wait ends as soon as the page is right
READERS = 4  # confirmed readers of the topic the newsletter goes to
ROWS = 500
# Bad rows, by spreadsheet line (the header is line 1): inside the preview's first ten rows.
BAD = {
    3: ["not-an-address", "groups-news", "2025-06-01T10:00:00+00:00"],
    5: ["no.offset@example.org", "groups-news", "2025-06-01 10:00"],
    7: ["", "groups-news", "2025-06-01T10:00:00+00:00"],
}


def import_file() -> bytes:
    """A CSV of ROWS rows: BAD's three, the rest good confirmed readers of groups-news."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Email", "Topics", "Consented at"])
    for line in range(2, ROWS + 2):
        writer.writerow(
            BAD.get(line)
            or [f"imported{line:04d}@example.org", "groups-news", "2025-06-01T10:00:00+00:00"]
        )
    return out.getvalue().encode()


@pytest.fixture
def newsroom(app, committed):
    """An admin, three topics, and READERS confirmed readers of `events`."""
    with app.app_context():
        session = committed.session
        create_user(session, "admin@example.org", ADMIN_PASSWORD, "admin", "Alex Admin")
        news = Topic(slug="newsletter", name="The newsletter", is_default=True)
        groups = Topic(slug="groups-news", name="News about support groups")
        events = Topic(slug="events", name="Events near you")
        session.add_all([news, groups, events])
        session.flush()
        for n in range(READERS):
            build_subscriber(session, [events], email=f"events{n}@example.org")
        session.commit()
        session.remove()


def sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def invitation_path(smtp_server) -> str:
    """The path of the invitation link in the one email to the editor."""
    [received] = [m for m in smtp_server.wait_for(1) if m.rcpt_tos == ["eda@example.org"]]
    assert "eda@example.org" in received.message["To"]
    text = received.message.get_body(("plain",)).get_content()
    url = re.search(r"https?://[^\s()<>]+/staff/invite/[^\s()<>]+", text).group(0)
    return urlsplit(url).path


def test_the_editors_journey(
    committed, queue_live_server, queue_app, browser_page, newsroom, smtp_server
):
    page = browser_page.page
    page.set_default_timeout(WAIT)
    base = queue_live_server.url
    smtp_server.reset()

    with PipelineRunner(queue_app) as runner:
        # 1. The admin invites an editor; the email arrives; the editor accepts and signs in.
        sign_in(page, base, "admin@example.org", ADMIN_PASSWORD)
        page.wait_for_url(f"{base}/admin/")
        page.get_by_role("link", name="Staff").click()
        page.locator("#invite-email").fill("eda@example.org")
        page.locator("#invite-name").fill("Eda")
        page.locator("#invite-role").select_option("editor")
        page.get_by_role("button", name="Send the invitation").click()
        expect(page.get_by_text("Invited eda@example.org")).to_be_visible()
        page.get_by_role("button", name="Sign out").click()

        path = invitation_path(smtp_server)
        page.goto(base + path)
        expect(page.get_by_text("Choose your password")).to_be_visible()
        page.locator("#password").fill(EDITOR_PASSWORD)
        page.locator("#confirm").fill(EDITOR_PASSWORD)
        page.get_by_role("button", name="Set my password").click()
        expect(page.get_by_text("Your password is set. Sign in with it now.")).to_be_visible()
        page.locator("#email").fill("eda@example.org")
        page.locator("#password").fill(EDITOR_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/admin/")

        # Two-factor sign-in: the secret shown on the page, a code from it, then a new sign-in.
        page.goto(f"{base}/admin/account/2fa")
        page.get_by_role("button", name="Set up two-factor sign-in").click()
        totp = pyotp.TOTP(page.locator("#totp-secret").inner_text().replace(" ", ""))
        page.locator("#code").fill(totp.now())
        page.get_by_role("button", name="Turn two-factor sign-in on").click()
        expect(page.locator(".recovery-codes li")).to_have_count(10)
        page.get_by_role("button", name="Sign out").click()
        sign_in(page, base, "eda@example.org", EDITOR_PASSWORD)
        page.wait_for_url(f"{base}/login/code")
        with queue_app.app_context():
            # The code just used is spent: the authenticator's next one is what a person types.
            used = committed.session.query(User).filter_by(email="eda@example.org").one()
            counter = used.totp_last_counter
            committed.session.remove()
        page.locator("#code").fill(totp.generate_otp(counter + 1))
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/admin/")
        expect(page.locator("main")).to_contain_text("Two-factor sign-in (on)")
        shot(page, "journey-signed-in-with-2fa")

        # 2. Import 500 rows, 3 of them bad: upload, map, preview, run, watch it finish.
        page.goto(f"{base}/admin/subscribers/import")
        page.locator("#import-file").set_input_files(
            files=[{"name": "readers.csv", "mimeType": "text/csv", "buffer": import_file()}]
        )
        page.get_by_role("button", name="Upload").click()
        page.wait_for_url(f"{base}/admin/subscribers/import/*")
        expect(page.locator("#map-email")).to_have_value("0")
        expect(page.locator("#map-topics")).to_have_value("1")
        page.locator("#map-consented_at").select_option("2")
        page.locator("#confirmed-yes").check()
        page.locator("#consent_source").fill("Autumn meeting sign-up sheet")
        page.locator("#consent_text").fill("Send me news about support groups.")
        page.get_by_role("button", name="Preview").click()
        rejected = page.locator("#preview tbody tr.import-rejected")
        expect(rejected).to_have_count(3)
        shown = [rejected.nth(n).locator("td").first.inner_text() for n in range(3)]
        assert shown == [str(line) for line in BAD]
        # The three reasons, as the preview lists them ("Not imported: <reason>").
        preview_reasons = [
            rejected.nth(n).locator("td").last.inner_text().removeprefix("Not imported: ")
            for n in range(3)
        ]
        shot(page, "journey-import-preview")
        page.get_by_role("button", name=f"Import all {ROWS} rows").click()
        page.wait_for_url(f"{base}/admin/subscribers/import/jobs/*")
        expect(page.locator("#import-status")).to_have_text("The import is done.", timeout=WAIT)
        expect(page.locator("#import-progress")).to_have_attribute("value", str(ROWS))
        expect(page.locator("#import-progress")).to_have_attribute("max", str(ROWS))
        expect(page.locator("#import-created")).to_have_text(str(ROWS - 3))
        expect(page.locator("#import-rejected")).to_have_text("3")
        shot(page, "journey-import-done")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the rows not imported").click()
        text = download.value.path().read_text(encoding="utf-8-sig")
        [header, *rows] = list(csv.reader(io.StringIO(text)))
        assert header[0] == "line" and header[-1] == "reason"
        assert [row[0] for row in rows] == [str(line) for line in BAD]
        reasons = [row[-1] for row in rows]
        assert reasons == [
            "That does not look like an email address. Please check it and try again.",
            "The consent date must be a date and time with its offset, "
            "e.g. 2024-05-01T09:30:00+02:00.",
            "Please enter your email address.",
        ]
        assert reasons == preview_reasons

        # 3. Find a reader by how the address starts, and open their page.
        page.goto(f"{base}/admin/subscribers")
        page.locator("#desk-q").fill("imported012")
        page.get_by_role("button", name="Show subscribers").click()
        rows_shown = page.locator("#subscribers tbody tr")
        expect(rows_shown).to_have_count(10)  # imported0120 … imported0129
        expect(page.locator("#desk-count")).to_contain_text("10 subscribers match")
        page.get_by_role("link", name="imported0125@example.org").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("imported0125@example.org")
        expect(page.locator("main")).to_contain_text("confirmed")
        expect(page.locator("main")).to_contain_text("News about support groups")
        shot(page, "journey-reader")

        # 4. A newsletter to `events`, through the confirmation step, and its report.
        page.goto(f"{base}/admin/newsletters")
        page.get_by_role("link", name="Write a newsletter").click()
        page.get_by_label("Subject").fill("Meetings this winter")
        page.get_by_role("checkbox", name="The newsletter").uncheck()
        page.get_by_role("checkbox", name="Events near you").check()
        page.get_by_label("Body", exact=True).fill("Hello everyone, here are the winter meetings.")
        page.get_by_role("button", name="Save draft").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Meetings this winter")
        page.get_by_role("link", name=f"Send now to {READERS} subscribers…").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Send this newsletter now?")
        expect(page.locator("main")).to_contain_text("Events near you")
        expect(page.locator("[data-figure=readers]")).to_have_text(str(READERS))
        shot(page, "journey-confirm-send")
        page.get_by_role("button", name=f"Send now to {READERS} readers").click()
        expect(page.locator("#progress-heading")).to_have_text("Results", timeout=WAIT)
        received = smtp_server.wait_for(1 + READERS, timeout=WAIT / 1000)
        letters = [m for m in received if m.message["Subject"] == "Meetings this winter"]
        assert sorted(m.rcpt_tos[0] for m in letters) == [
            f"events{n}@example.org" for n in range(READERS)
        ]
        page.get_by_role("link", name="The send's report").click()
        expect(page.locator("[data-figure=delivered]")).to_have_text(str(READERS))
        expect(page.locator("[data-figure=failed]")).to_have_text("0")
        expect(page.locator("[data-figure=pending]")).to_have_text("0")
        shot(page, "journey-report")

    assert runner.errors == []

    # 5. The dashboard after the beat's rollup (run here, so the page surely comes after it):
    # the chart draws the numbers of its table.
    queue_app.extensions["celery"].send_task("engage.stats.rollup")
    assert "engage.stats.rollup" in run_queued(queue_app)
    page.goto(f"{base}/admin/")
    page.locator("summary", has_text="Each day's numbers").click()
    table = page.locator("#dash-growth-table tbody tr")
    expect(table).to_have_count(90)
    # Today, confirmed at the end: the readers of `events` and everyone the import took.
    expect(table.first.locator("td").last).to_have_text(str(READERS + ROWS - 3))

    chart = page.get_by_role("img", name="Net subscriber growth per day")
    expect(chart).to_have_count(1)
    assert chart.evaluate("node => node.tagName.toLowerCase()") == "svg"
    # The value of each bar, as the chart writes it for screen readers (<desc class="value">).
    values = chart.locator("desc.value").evaluate_all("nodes => nodes.map(n => n.textContent)")
    drawn = [int(v.replace(",", "")) for v in values]
    growth = [int(v.replace(",", "")) for v in table.locator("td:nth-of-type(1)").all_inner_texts()]
    assert len(growth) == 90
    assert drawn == list(reversed(growth))  # the chart runs oldest first, the table newest first
    shot(page, "journey-dashboard")
