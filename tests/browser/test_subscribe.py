"""A reader subscribes from an article, confirms by email and unsubscribes, in headless Chromium.

The live server enqueues the email tasks on the real broker (a queue of this test's own, see
`queue_app`); the test runs them in this process (tests/support/tasks.py), and they deliver to
the real SMTP server.
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engage.extensions import limiter
from engage.subscriptions.models import Subscriber, Topic
from tests.articles.conftest import build_article
from tests.support.tasks import run_queued

pytestmark = pytest.mark.browser

SCREENSHOTS = os.environ.get("ENGAGE_SCREENSHOT_DIR", "")
BASE_URL = "http://engage.test"
CONFIRM_LINK = re.compile(r"http://engage\.test/confirm/[A-Za-z0-9_.\-]+")
UNSUBSCRIBE_LINK = re.compile(r"http://engage\.test/u/[A-Za-z0-9_\-]+")


@pytest.fixture
def article(app, committed):
    """Topics and one article, committed so the live server sees them; yields its path."""
    with app.app_context():
        limiter.reset()
        session = committed.session
        session.add_all(
            [
                Topic(slug="newsletter", name="The newsletter", is_default=True),
                Topic(slug="groups-news", name="News about support groups"),
            ]
        )
        build_article(
            session,
            slug="finding-company",
            title="Finding company in hard times",
            body_markdown="Most people say very little at a first meeting, and that is fine.",
        )
        session.commit()
        session.remove()
    return "/articles/finding-company"


def subscriber_row(app) -> dict:
    """The one subscriber as the database has it now, read in a fresh session."""
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        try:
            subscriber = session.scalar(select(Subscriber))
            assert subscriber is not None
            return {
                "email": subscriber.email,
                "status": subscriber.status,
                "digest": subscriber.digest,
                "topics": sorted(t.slug for t in subscriber.topics),
                "sources": [c.source for c in subscriber.consents],
            }
        finally:
            session.remove()


def link_in(received, pattern: re.Pattern, live_url: str) -> str:
    text = received.message.get_body(("plain",)).get_content()
    match = pattern.search(text)
    assert match, text
    return match.group(0).replace(BASE_URL, live_url, 1)


def test_subscribe_confirm_and_unsubscribe_from_an_article(
    queue_live_server, queue_app, browser_page, article, app, smtp_server
):
    page = browser_page.page
    page.goto(queue_live_server.url + article)
    box = page.locator("aside.article-signup")
    expect(box.get_by_role("heading", name="Get articles like this by email")).to_be_visible()
    if SCREENSHOTS:
        box.screenshot(path=f"{SCREENSHOTS}/article-signup-box.png")

    box.get_by_label("Email address").fill("reader@example.org")
    expect(box.get_by_role("checkbox", name="The newsletter")).to_be_checked()  # the default
    box.get_by_role("radio", name="Weekly").check()
    box.get_by_role("button", name="Subscribe").click()

    page.wait_for_url(f"{queue_live_server.url}/subscribe/check-your-email")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")

    # The confirmation email, through the broker, to the real SMTP server.
    assert run_queued(queue_app) == ["engage.send_email"]
    [confirmation] = smtp_server.wait_for(1)
    assert confirmation.rcpt_tos == ["reader@example.org"]
    page.goto(link_in(confirmation, CONFIRM_LINK, queue_live_server.url))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your subscription")
    pending = subscriber_row(app)
    assert pending["status"] == "pending"  # opening the link (a GET) changes nothing
    assert pending["digest"] == "weekly"
    assert pending["topics"] == ["newsletter"]
    assert pending["sources"] == ["form:/articles/finding-company"]

    page.get_by_role("button", name="Yes, subscribe me").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are subscribed")
    assert subscriber_row(app)["status"] == "confirmed"

    # The welcome email's unsubscribe link opens a page whose button unsubscribes.
    smtp_server.reset()
    assert run_queued(queue_app) == ["engage.send_email"]
    [welcome] = smtp_server.wait_for(1)
    assert welcome.message["Subject"] == "Welcome to Engage"
    page.goto(link_in(welcome, UNSUBSCRIBE_LINK, queue_live_server.url))
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe")
    assert subscriber_row(app)["status"] == "confirmed"
    page.get_by_role("button", name="Unsubscribe from everything").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    assert subscriber_row(app)["status"] == "unsubscribed"


def focused(page) -> dict:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            return {
                id: el.id, name: el.getAttribute('name'), type: el.getAttribute('type'),
                tag: el.tagName.toLowerCase(), text: el.textContent.trim(),
                inArticleBox: el.closest('aside.article-signup') !== null,
            };
        }"""
    )


def test_the_article_sign_up_works_with_the_keyboard_only(
    queue_live_server, browser_page, article, app
):
    page = browser_page.page
    page.goto(queue_live_server.url + article)

    # Tab from the top of the page until the article box's email field has focus.
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(focused(page))
        if reached[-1]["id"] == "article-signup-email":
            break
    else:
        pytest.fail(f"Tab never reached the article's email field: {reached}")
    page.keyboard.type("keys@example.org")

    # Through the topics (Space toggles a checkbox) to the digest radios (arrows choose).
    page.keyboard.press("Tab")
    current = focused(page)
    assert (current["name"], current["type"]) == ("topics", "checkbox")
    page.keyboard.press("Tab")
    current = focused(page)
    assert (current["name"], current["type"]) == ("topics", "checkbox")
    page.keyboard.press("Space")  # also "News about support groups"
    page.keyboard.press("Tab")
    current = focused(page)
    assert (current["name"], current["type"]) == ("digest", "radio")
    page.keyboard.press("ArrowDown")  # "No digest" → "Weekly"
    expect(page.locator("aside.article-signup").get_by_role("radio", name="Weekly")).to_be_checked()

    # The honeypot is skipped; the privacy link, then the button.
    seen = []
    for _ in range(5):
        page.keyboard.press("Tab")
        current = focused(page)
        seen.append(current)
        assert current["name"] != "website", "the honeypot must not take focus"
        if current["tag"] == "button":
            break
    assert current["text"] == "Subscribe" and current["inArticleBox"], seen
    page.keyboard.press("Enter")

    page.wait_for_url(f"{queue_live_server.url}/subscribe/check-your-email")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    subscriber = subscriber_row(app)
    assert subscriber["email"] == "keys@example.org"
    assert subscriber["digest"] == "weekly"
    assert subscriber["topics"] == ["groups-news", "newsletter"]
