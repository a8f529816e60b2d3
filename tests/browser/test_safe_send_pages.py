"""The safe-send pages in headless Chromium: the confirmation (with readers, and refused with
none), "Starting…", the delete confirmation and the send's report, looked at by axe-core
(WCAG 2.2 AA) at desktop and phone widths, without sideways scrolling."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from engage.accounts.service import create_user
from engage.sending import bounces
from engage.sending.bounces import BounceReport
from engage.sending.verp import DELIVERY, VerpToken
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
def desk(app, committed):
    """Newsletters in each state the pages show, and a sent one with problems to report."""
    with app.app_context():
        session = committed.session
        create_user(session, "admin@example.org", PASSWORD, "admin")
        topics = build_topics(session)
        news, groups = topics["newsletter"], topics["groups-news"]
        readers = [build_subscriber(session, [news, groups]) for _ in range(5)]
        draft = build_newsletter(session, [news, groups], subject="Winter meetings near you")
        empty = build_newsletter(session, [], subject="Nobody reads this yet")
        starting = build_newsletter(
            session, [news], status="scheduled", scheduled_at=utcnow() - timedelta(seconds=5)
        )
        sent = build_newsletter(
            session,
            [news],
            subject="Autumn at the groups",
            status="sent",
            started_at=utcnow(),
            finished_at=utcnow(),
        )
        rows = build_deliveries(
            session,
            sent,
            readers,
            ["failed", "sent", "sent", "sent", "sent"],
            "550 5.1.1 <someone.long.address@example.org>: Recipient address rejected",
        )
        rows[0].bounce = "hard"
        report = BounceReport(
            "soft",
            None,
            VerpToken(DELIVERY, rows[1].id),
            "4.2.2",
            "452 4.2.2 mailbox full, try again later",
            source="dsn",
        )
        bounces.apply(session, report)
        session.commit()
        ids = {
            "draft": draft.id,
            "empty": empty.id,
            "starting": starting.id,
            "sent": sent.id,
        }
        session.remove()
    return ids


def pages(ids):
    return [
        ("confirm-send", f"/admin/newsletters/{ids['draft']}/send-now", "Send now to 5 readers"),
        (
            "confirm-schedule",
            f"/admin/newsletters/{ids['draft']}/schedule?date=2030-01-15&time=09:00"
            "&timezone=Europe/Paris",
            "Schedule for 5 readers",
        ),
        ("confirm-refused", f"/admin/newsletters/{ids['empty']}/send-now", "no topic is chosen"),
        ("starting", f"/admin/newsletters/{ids['starting']}", "Starting…"),
        ("delete", f"/admin/newsletters/{ids['draft']}/delete", "Delete this draft?"),
        ("report", f"/admin/newsletters/{ids['sent']}/report", "Messages with a problem"),
        ("sent", f"/admin/newsletters/{ids['sent']}", "The send's report"),
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_safe_send_pages_pass_axe_and_fit_the_screen(live_server, browser_page, desk, width):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server.url)
    axe = Axe()
    for name, path, text in pages(desk):
        page.goto(live_server.url + path)
        assert text in page.content(), name
        assert "someone.long.address@" not in page.content()
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
        assert results.violations_count == 0, f"{path}:\n{results.generate_report()}"
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{path} scrolls sideways at {width}px ({scroll}px)"
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / f"{name}-{width}.png"), full_page=True)


def test_confirming_in_the_browser_leads_to_starting(live_server, browser_page, desk):
    page = browser_page.page
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/newsletters/{desk['draft']}")
    page.get_by_role("link", name="Send now to 5 subscribers…").click()
    page.get_by_role("button", name="Send now to 5 readers").click()
    # No worker runs here: the page stays at "Starting…", and never says "0 recipients".
    heading = page.locator("#progress-heading")
    assert heading.text_content() == "Starting…"
    assert "0 recipients" not in page.content()
