"""The desk's CSV import in headless Chromium, start to end: upload, map the columns, say the
readers are not confirmed, preview, run (the job goes through the broker and is run here, as a
worker would), watch the progress page catch up by itself and download the rejected rows.
axe-core (WCAG 2.2 AA) checks each step's page at desktop and phone widths."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engage.accounts.service import create_user
from engage.subscriptions.models import Subscriber, Topic
from tests.browser.test_desk_pages import check
from tests.browser.test_staff_pages import PASSWORD, WIDTHS, sign_in
from tests.support.tasks import run_queued

pytestmark = pytest.mark.browser

FILE = (
    "\ufeffE-mail;Name;Interests\r\n"
    "new.reader@example.org;New Reader;groups-news\r\n"
    "a.rather.long.address.for.a.phone.screen@mental-health-support.example.org;Long;\r\n"
    '=HYPERLINK("http://evil.example");Formula;\r\n'
).encode()


@pytest.fixture
def editor_world(app, committed):
    with app.app_context():
        session = committed.session
        create_user(session, "admin@example.org", PASSWORD, "admin")
        session.add_all(
            [
                Topic(slug="newsletter", name="The newsletter", is_default=True),
                Topic(slug="groups-news", name="News about support groups"),
            ]
        )
        session.commit()
        session.remove()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_import_flow_in_a_browser(
    queue_live_server, queue_app, browser_page, editor_world, committed, width, smtp_server
):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    base = queue_live_server.url
    sign_in(page, base)

    page.goto(f"{base}/admin/subscribers/import")
    check(page, "/admin/subscribers/import", width, "import-upload")
    page.locator("#import-file").set_input_files(
        files=[{"name": "readers.csv", "mimeType": "text/csv", "buffer": FILE}]
    )
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(f"{base}/admin/subscribers/import/*")
    # The address and topics columns are guessed from the header.
    expect(page.locator("#map-email")).to_have_value("0")
    expect(page.locator("#map-topics")).to_have_value("2")
    check(page, "/admin/subscribers/import/<token>", width, "import-map")

    page.get_by_role("button", name="Preview").click()  # nothing said about consent yet
    expect(page.get_by_text("Say whether these readers have already confirmed.")).to_be_visible()
    check(page, "/admin/subscribers/import/<token> (errors)", width, "import-map-errors")
    page.locator("#confirmed-no").check()
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview tbody tr")).to_have_count(3)
    expect(page.locator("#preview tbody tr").nth(2)).to_contain_text("Not imported:")
    check(page, "/admin/subscribers/import/<token> (preview)", width, "import-preview")

    page.get_by_role("button", name="Import all 3 rows").click()
    page.wait_for_url(f"{base}/admin/subscribers/import/jobs/*")
    expect(page.locator("#import-status")).to_contain_text("Waiting for a worker")
    check(page, "/admin/subscribers/import/jobs/<id> (queued)", width, "import-job-queued")

    ran = run_queued(queue_app)
    assert ran[0] == "engage.subscriptions.run_import"
    # The page's script polls the job and shows the end without a reload.
    expect(page.locator("#import-status")).to_have_text("The import is done.")
    expect(page.locator("#import-created")).to_have_text("2")
    expect(page.locator("#import-rejected")).to_have_text("1")
    expect(page.locator("#import-refresh")).to_be_hidden()
    check(page, "/admin/subscribers/import/jobs/<id> (done)", width, "import-job-done")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the rows not imported").click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    [header, row] = list(csv.reader(io.StringIO(text)))
    assert header == ["line", "E-mail", "Name", "Interests", "reason"]
    assert row[:3] == ["4", '\'=HYPERLINK("http://evil.example")', "Formula"]

    with queue_app.app_context():
        statuses = {s.email: s.status for s in committed.session.scalars(select(Subscriber))}
        committed.session.remove()
    assert statuses == {
        "new.reader@example.org": "pending",
        "a.rather.long.address.for.a.phone.screen@mental-health-support.example.org": "pending",
    }
