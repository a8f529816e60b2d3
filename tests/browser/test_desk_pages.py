"""The subscriber desk in headless Chromium: an admin searches, opens a reader's page, goes
through the erase confirmation and looks at the suppression list; axe-core (WCAG 2.2 AA)
checks each page at desktop and phone widths, and no page scrolls sideways."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select

from engage.accounts.service import create_user
from engage.newsletters.models import Newsletter
from engage.sending import bounces
from engage.sending.models import Delivery
from engage.subscriptions import service
from engage.subscriptions.models import Subscriber, Topic
from tests.browser.test_staff_pages import PASSWORD, WCAG_AA, WIDTHS, sign_in
from tests.subscriptions.test_desk import add

pytestmark = pytest.mark.browser

# Set to a folder to keep a screenshot of each page at each width (to look at them).
SHOTS = os.environ.get("ENGAGE_SCREENSHOTS")


@pytest.fixture
def desk_world(app, committed):
    """An admin, two topics, a dozen subscribers; one with a bounced newsletter, one erased."""
    with app.app_context():
        session = committed.session
        create_user(session, "admin@example.org", PASSWORD, "admin")
        news = Topic(slug="newsletter", name="The newsletter", is_default=True)
        groups = Topic(slug="groups-news", name="News about support groups")
        session.add_all([news, groups])
        for n in range(10):
            add(
                session,
                f"reader{n:02d}@example.org",
                status=("confirmed", "pending", "unsubscribed")[n % 3],
                topics=[news] if n % 2 else [news, groups],
                digest=("off", "weekly", "daily")[n % 3],
                created=datetime(2026, 1, 1 + n, 9, tzinfo=UTC),
            )
        reader = add(
            session,
            "a.very.long.address.for.a.phone.screen@mental-health-support.example.org",
            topics=[news],
            source="embed:partner.example/articles/finding-a-group",
        )
        letter = Newsletter(subject="Finding a group near you", body_markdown="Hi", status="sent")
        session.add(letter)
        session.flush()
        session.add(
            Delivery(
                newsletter_id=letter.id,
                subscriber_id=reader.id,
                status="failed",
                bounce="hard",
                attempts=1,
                smtp_reply=f"550 5.1.1 <{reader.email}>: Recipient address rejected",
            )
        )
        bounces.apply(session, bounces.smtp_refusal(reader.email, 550, "5.1.1 no such user"))
        service.erase(session, add(session, "erased@example.org"))
        session.commit()
        ids = {"reader": reader.id, "first": session.scalar(select(Subscriber.id).limit(1))}
        session.remove()
    return ids


def check(page, path: str, width: int, name: str) -> None:
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    assert results.violations_count == 0, f"{path}:\n{results.generate_report()}"
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{path} scrolls sideways at {width}px ({scroll}px)"
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_desk_pages_pass_axe_and_fit_the_screen(live_server, browser_page, desk_world, width):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    base = live_server.url
    sign_in(page, base)
    assert "Subscribers</a> (11: 4 confirmed, 3 pending)" in page.content()
    check(page, "/admin/", width, "dashboard")

    page.goto(f"{base}/admin/subscribers")
    assert "11</strong> subscribers in all" in page.content()
    check(page, "/admin/subscribers", width, "subscribers")

    page.locator("#desk-q").fill("reader0")
    page.locator("#desk-status").select_option("confirmed")
    page.get_by_role("button", name="Show subscribers").click()
    page.wait_for_load_state()
    assert "reader0" not in page.url  # the address went in the body, not the URL
    rows = page.locator("#subscribers tbody tr")
    assert rows.count() == 4  # reader00, 03, 06, 09
    check(page, "/admin/subscribers (a search)", width, "subscribers-search")

    page.goto(f"{base}/admin/subscribers/{desk_world['reader']}")
    assert "Recipient address rejected" in page.content()
    check(page, "/admin/subscribers/<id>", width, "subscriber")

    page.get_by_role("link", name="Erase this subscriber…").click()
    page.wait_for_url(f"{base}/admin/subscribers/{desk_world['reader']}/erase")
    check(page, "/admin/subscribers/<id>/erase", width, "erase")
    page.get_by_role("button", name="Erase this subscriber").click()
    page.wait_for_url(f"{base}/admin/subscribers")
    assert "is erased" in page.content()

    page.goto(f"{base}/admin/suppressions")
    assert page.locator("#suppressions tbody tr").count() == 2  # bounced (now erased), erased
    check(page, "/admin/suppressions", width, "suppressions")
    page.locator("#suppressions").get_by_role("link").first.click()
    page.wait_for_load_state()
    check(page, "/admin/suppressions/<id>/lift", width, "lift")
    page.locator("#lift-note").fill("Checked with the reader by phone")
    page.get_by_role("button", name="Lift the suppression").click()
    page.wait_for_url(f"{base}/admin/suppressions")
    assert "Checked with the reader by phone" in page.locator("#lifts").inner_text()
