"""In headless Chromium: an event page with private joining details and its request form (axe,
both widths, the email that arrives), and the crisis box (tel:/sms: links, a tap, the country
form, a box as tall as its text)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from engage.community.models import Event, SupportGroup
from engage.types import utcnow
from tests.support.tasks import run_queued

pytestmark = pytest.mark.browser

WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDTHS = (1280, 390)
LINK = "https://meet.example.org/bereaved-parents-7f3a"
# Set to a folder to keep a screenshot of each page at each width (to look at them).
SHOTS = os.environ.get("ENGAGE_SCREENSHOTS")


@pytest.fixture
def listings(queue_app):
    """An approved group and its online event, both with private joining details."""
    now = utcnow()
    with queue_app.app_context():
        session = queue_app.extensions["sqlalchemy"].session
        try:
            group = SupportGroup(
                slug="after-loss",
                name="After Loss Parents' Circle",
                description="For parents whose child has died, at any age, however long ago.",
                purposes=["bereavement"],
                format="online",
                region="Online, UK and Ireland",
                schedule="Second Tuesday of the month, 7.30pm",
                how_to_join=f"Join the call at {LINK}",
                how_to_join_private=True,
                contact="Maeve, 01 555 0199",
                contact_private=True,
                timezone="Europe/London",
                status="approved",
                approved_at=now,
                organiser_email="maeve@example.org",
                organiser_confirmed_at=now,
            )
            session.add(group)
            session.flush()
            starts = now + timedelta(days=5)
            session.add(
                Event(
                    slug="evening-meeting",
                    title="Evening meeting for bereaved parents",
                    description="A gentle hour together. Cameras optional.",
                    group_id=group.id,
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=1),
                    timezone="Europe/London",
                    online_url=LINK,
                    notify_requests=True,
                    status="approved",
                    approved_at=now,
                    organiser_email="maeve@example.org",
                    organiser_confirmed_at=now,
                )
            )
            session.commit()
        finally:
            session.remove()


def check_page(page, path: str, width: int) -> None:
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    assert results.violations_count == 0, f"{path} at {width}px:\n{results.generate_report()}"
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{path} scrolls sideways at {width}px ({scroll}px)"


@pytest.mark.parametrize("width", WIDTHS)
def test_private_details_pages_pass_axe_and_show_no_link(
    queue_live_server, browser_page, listings, width
):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    base = queue_live_server.url
    for path in ("/events/evening-meeting", "/groups/after-loss", "/events/submit"):
        page.goto(base + path)
        assert "meet.example.org" not in page.content()
        check_page(page, path, width)
        if SHOTS:
            name = path.strip("/").replace("/", "-")
            page.screenshot(path=str(Path(SHOTS) / f"{name}-{width}.png"), full_page=True)
    page.goto(f"{base}/events/evening-meeting")
    expect(page.get_by_role("heading", name="Joining details")).to_be_visible()
    expect(page.get_by_role("button", name="Send me the joining details")).to_be_visible()


def test_a_reader_asks_and_the_link_arrives(
    queue_live_server, queue_app, browser_page, listings, smtp_server
):
    page = browser_page.page
    base = queue_live_server.url
    page.goto(f"{base}/events/evening-meeting")
    page.locator("#joining-email").fill("reader@example.org")
    page.get_by_role("button", name="Send me the joining details").click()
    page.wait_for_url(f"{base}/events/evening-meeting?asked=1#joining")
    expect(page.get_by_role("status")).to_contain_text("the joining details are on their way")
    check_page(page, "/events/evening-meeting?asked=1", 1280)
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / "event-asked-1280.png"), full_page=True)

    assert run_queued(queue_app) == ["engage.send_email", "engage.send_email"]
    messages = smtp_server.wait_for(2)
    [details] = [m for m in messages if m.rcpt_tos == ["reader@example.org"]]
    [notice] = [m for m in messages if m.rcpt_tos == ["maeve@example.org"]]
    assert LINK in details.message.get_body(("plain",)).get_content()
    assert b"reader@example.org" not in notice.raw


@pytest.mark.parametrize("width", WIDTHS)
def test_the_crisis_box_has_numbers_to_tap_and_fits_its_text(live_server, chromium, width):
    # A phone-like context at 390px (touch), a desktop one at 1280px; a UK browser.
    context = chromium.new_context(
        viewport={"width": width, "height": 900},
        locale="en-GB",
        has_touch=width < 500,
        is_mobile=width < 500,
    )
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/about")
        box = page.locator("section.crisis")
        expect(box.get_by_role("heading", name="Need help now?")).to_be_visible()
        hrefs = box.locator("a.crisis-link").evaluate_all("links => links.map(a => a.href)")
        assert "tel:116123" in hrefs and "sms:85258?body=SHOUT" in hrefs and "tel:999" in hrefs
        assert all(h.startswith(("tel:", "sms:")) for h in hrefs), hrefs
        # Large enough to tap: at least 44px tall.
        heights = box.locator("a.crisis-link").evaluate_all(
            "links => links.map(a => a.getBoundingClientRect().height)"
        )
        assert min(heights) >= 44, heights
        # As tall as its text: no empty panel below the last line.
        gap = page.evaluate(
            """() => {
                const box = document.querySelector('section.crisis');
                const last = box.lastElementChild.getBoundingClientRect().bottom;
                const pad = parseFloat(getComputedStyle(box).paddingBottom);
                return box.getBoundingClientRect().bottom - last - pad;
            }"""
        )
        assert gap < 40, f"{gap}px of empty box at {width}px"
        check_page(page, "/about", width)
        if SHOTS:
            box.scroll_into_view_if_needed()
            box.screenshot(path=str(Path(SHOTS) / f"crisis-box-{width}.png"))
            page.screenshot(path=str(Path(SHOTS) / f"about-{width}.png"), full_page=True)

        # Tapping a number goes to tel: (the phone's dialler); the page records where the
        # tap led instead of leaving, since a headless browser has no dialler.
        page.evaluate(
            """() => document.addEventListener('click', event => {
                const link = event.target.closest('a');
                if (link) { window.tappedHref = link.href; event.preventDefault(); }
            })"""
        )
        call = box.get_by_role("link", name="Call 116 123")
        call.tap() if width < 500 else call.click()
        assert page.evaluate("window.tappedHref") == "tel:116123"
    finally:
        context.close()


def test_the_reader_chooses_another_country_with_the_get_form(live_server, browser_page):
    page = browser_page.page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/events?format=online")
    box = page.locator("section.crisis")
    expect(box.get_by_role("link", name="Call 116 123").first).to_be_visible()  # en-GB browser
    box.get_by_label("Show numbers for").select_option("AU")
    box.get_by_role("button", name="Show").click()
    page.wait_for_url("**/events?format=online&crisis=AU#crisis")
    expect(box.get_by_role("link", name="Call 13 11 14")).to_have_attribute("href", "tel:131114")
    expect(box.get_by_role("link", name="Text 0477 131 114")).to_have_attribute(
        "href", "sms:0477131114"
    )
    assert page.context.cookies() == [] or all(
        "crisis" not in cookie["name"] for cookie in page.context.cookies()
    )
    box.get_by_label("Show numbers for").select_option("INT")
    box.get_by_role("button", name="Show").click()
    page.wait_for_url("**crisis=INT#crisis")
    expect(box.get_by_role("link", name="findahelpline.com")).to_have_attribute(
        "href", "https://findahelpline.com"
    )
