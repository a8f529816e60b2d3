"""A reader's first visit, in headless Chromium against the live app."""

from __future__ import annotations

import os
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from engage import demo
from engage.types import utcnow
from tests.articles.conftest import build_article

pytestmark = pytest.mark.browser

SIGNUP_SENTENCE = "We respect your privacy. Unsubscribe at any time."
SCREENSHOTS = os.environ.get("ENGAGE_SCREENSHOT_DIR", "")


@pytest.fixture
def published(app, committed):
    """Two committed articles the live server can see; yields the newer one's title."""
    with app.app_context():
        now = utcnow()
        build_article(
            committed.session,
            slug="finding-company",
            title="Finding company in hard times",
            summary="What a first meeting is like.",
            body_markdown="## The first meeting\n\nMost people say very little, and that is fine.",
            published_at=now - timedelta(days=1),
        )
        build_article(
            committed.session,
            slug="an-older-piece",
            title="An older piece",
            published_at=now - timedelta(days=8),
        )
        committed.session.commit()
        committed.session.remove()
    return "Finding company in hard times"


def test_reader_opens_an_article(live_server, browser_page, published, app):
    page = browser_page.page
    page.goto(live_server.url + "/")

    expect(page.get_by_role("heading", level=1)).to_have_text(app.config["ENGAGE"].site_name)
    page.get_by_role("link", name=published).click()

    page.wait_for_url(f"{live_server.url}/articles/finding-company")
    expect(page.get_by_role("heading", level=1)).to_have_text(published)
    expect(page.get_by_role("heading", name="The first meeting")).to_be_visible()
    expect(page.locator("article time")).to_have_attribute("datetime", published_iso(page))
    expect(page.get_by_role("heading", name="Need help now?")).to_be_visible()
    # The browser says en-GB: the UK's numbers, as links a phone dials.
    expect(page.locator(".crisis").get_by_role("link", name="Call 116 123")).to_have_attribute(
        "href", "tel:116123"
    )
    # One sign-up form per page: the article's own box, none in the footer.
    expect(page.locator("aside.article-signup").get_by_text(SIGNUP_SENTENCE)).to_be_visible()
    expect(page.get_by_role("contentinfo").get_by_text(SIGNUP_SENTENCE)).to_have_count(0)
    expect(
        page.get_by_text("Your email address will not be published.", exact=False)
    ).to_be_visible()

    # The skip link is the first thing the keyboard reaches, and it moves focus to the content.
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_text("Skip to content")
    expect(focused).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    # The next Tab continues after the skip target, not back through the header's links.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('.site-header') === null")

    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/article.png", full_page=True)

    assert_only_local_requests(browser_page.requests, live_server.url)


def test_no_request_leaves_the_site(live_server, browser_page, app):
    with app.app_context():
        demo.load(app.extensions["sqlalchemy"].session, password="browser-test-password")
        app.extensions["sqlalchemy"].session.commit()
        app.extensions["sqlalchemy"].session.remove()
    page = browser_page.page
    for path in ("/", "/articles/what-is-a-support-group", "/privacy", "/about", "/login", "/nope"):
        page.goto(live_server.url + path)
        # The footer's sign-up, except where the page has its own or none belongs.
        footer = page.get_by_role("contentinfo").get_by_text(SIGNUP_SENTENCE)
        if path.startswith("/articles/") or path == "/login":
            expect(footer).to_have_count(0)
        else:
            expect(footer).to_be_visible()
        if SCREENSHOTS and path == "/":
            page.screenshot(path=f"{SCREENSHOTS}/home.png", full_page=True)
        if SCREENSHOTS and path.startswith("/articles/"):
            page.screenshot(path=f"{SCREENSHOTS}/demo-article.png", full_page=True)
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    assert_only_local_requests(browser_page.requests, live_server.url)
    assert any(url.endswith("/static/site.css") for url in browser_page.requests)


def published_iso(page) -> str:
    # The server renders the UTC timestamp it stored; read it back rather than guess precision.
    value = page.locator("article time").get_attribute("datetime")
    assert value and value.endswith("+00:00")
    return value


def assert_only_local_requests(urls: list[str], base: str) -> None:
    origin = urlsplit(base)
    strangers = [u for u in urls if urlsplit(u).netloc != origin.netloc]
    assert urls, "the page made no requests at all"
    assert strangers == [], f"requests left the live server: {strangers}"
