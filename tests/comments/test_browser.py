"""A reader posts a reply, a moderator approves it in the queue, the reply is on the page:
headless Chromium against the live server."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from engage.accounts import service as accounts
from engage.extensions import limiter
from tests.articles.conftest import build_article

pytestmark = pytest.mark.browser

PASSWORD = "a long moderator password"


@pytest.fixture
def scene(app, committed):
    with app.app_context():
        limiter.reset()
        session = committed.session
        build_article(session, slug="first-meeting", title="Your first meeting")
        accounts.create_user(session, "moderator@example.org", PASSWORD, "moderator", "Mo")
        session.commit()
        session.remove()
    return "/articles/first-meeting"


def test_a_reply_is_posted_moderated_and_published(
    queue_live_server, chromium, browser_page, scene
):
    base = queue_live_server.url
    page = browser_page.page
    page.goto(base + scene)
    page.fill("#reply-body", "I went last week and **everyone** was kind.")
    page.fill("#reply-name", "Robin")
    page.fill("#reply-email", "robin@example.org")
    page.click("text=Post reply")
    expect(page.locator(".awaiting")).to_have_text("Waiting for a moderator")
    expect(page.locator(".reply-body strong")).to_have_text("everyone")

    moderator = chromium.new_context(locale="en-GB").new_page()
    moderator.goto(base + "/login")
    moderator.fill("input[name=email]", "moderator@example.org")
    moderator.fill("input[name=password]", PASSWORD)
    moderator.click("button[type=submit]")
    moderator.goto(base + "/admin/comments/")
    expect(moderator.locator("#tab-pending")).to_contain_text("(1)")
    item = moderator.locator(".queue-item").first
    expect(item).to_contain_text("I went last week")
    item.locator("button", has_text="Approve").click()
    expect(moderator.locator("#tab-pending")).to_contain_text("(0)")
    expect(moderator.locator("#tab-approved")).to_contain_text("(1)")
    moderator.context.close()

    page.reload()
    expect(page.locator(".awaiting")).to_have_count(0)
    expect(page.locator(".reply-author")).to_have_text("Robin")
    expect(page.locator("#replies-count")).to_have_text("1 reply")
    assert all(r.startswith(base) for r in browser_page.requests)
