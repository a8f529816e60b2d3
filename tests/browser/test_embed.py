"""The embeddable form on another site's page, and the admin page that hands it out, in Chromium.

"Another site" is a second, tiny web server on loopback: a different origin (another port) from
the live server the form posts to. It has to be a real server on a loopback address: Chromium
refuses a fetch from a page of unknown address to 127.0.0.1 (Private Network Access).
"""

from __future__ import annotations

import os

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import func, select

from engage.accounts.service import create_user
from engage.extensions import limiter
from engage.subscriptions.embed import snippet
from engage.subscriptions.models import Subscriber, Topic
from tests.support.live import LiveServer
from tests.support.tasks import run_queued

pytestmark = pytest.mark.browser

SCREENSHOTS = os.environ.get("ENGAGE_SCREENSHOT_DIR", "")
PASSWORD = "a long enough password for the browser"


@pytest.fixture
def site(app, committed):
    """The default topic and an editor, committed for the live server."""
    with app.app_context():
        limiter.reset()
        session = committed.session
        session.add(Topic(slug="newsletter", name="The newsletter", is_default=True))
        create_user(session, "editor@example.org", PASSWORD, "editor")
        session.commit()
        session.remove()


@pytest.fixture
def host_page(app, queue_live_server, browser_page, site):
    """Opens an article page on the other site, carrying the snippet; returns its origin."""
    with app.test_request_context():
        form = snippet().replace("http://engage.test", queue_live_server.url)
    document = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>News</title></head>"
        f"<body><main><h1>Another site's article</h1>{form}</main></body></html>"
    )
    other = Flask("another-site")
    other.add_url_rule("/stories/a-first-meeting", "story", lambda: document)
    server = LiveServer(other).start()
    try:
        browser_page.page.goto(f"{server.url}/stories/a-first-meeting")
        yield server.url
    finally:
        server.stop()


def subscribers(app) -> list[tuple[str, str]]:
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        rows = session.execute(select(Subscriber.email, Subscriber.status)).all()
        session.remove()
    return [tuple(r) for r in rows]


def sources(app) -> list[str]:
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        rows = [c.source for s in session.scalars(select(Subscriber)) for c in s.consents]
        session.remove()
    return rows


def fetch_json(page, url: str, body: dict) -> dict:
    return page.evaluate(
        """async ([url, body]) => {
            try {
                const response = await fetch(url, {
                    method: "POST",
                    headers: {"Content-Type": "application/json"},
                    body: JSON.stringify(body),
                });
                return {status: response.status, body: await response.json()};
            } catch (error) {
                return {blocked: String(error)};
            }
        }""",
        [url, body],
    )


def test_a_listed_site_embeds_the_plain_form(
    app, queue_app, queue_live_server, browser_page, host_page, monkeypatch, smtp_server
):
    monkeypatch.setattr(queue_app.config["ENGAGE"], "embed_origins", (host_page,))
    page = browser_page.page
    page.get_by_label("Email address").fill("embedded@example.org")
    expect(page.get_by_label("Leave this field empty")).to_be_hidden()
    page.get_by_role("button", name="Subscribe").click()

    page.wait_for_url(f"{queue_live_server.url}/subscribe/check-your-email")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    assert subscribers(app) == [("embedded@example.org", "pending")]
    # The browser trims a cross-site referrer to the origin by default.
    assert sources(app) == [f"embed:{host_page.removeprefix('http://')}/"]
    assert run_queued(queue_app) == ["engage.send_email"]
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["embedded@example.org"]


def test_a_listed_site_reads_the_json_answer(
    app, queue_app, queue_live_server, browser_page, host_page, monkeypatch
):
    monkeypatch.setattr(queue_app.config["ENGAGE"], "embed_origins", (host_page,))
    url = f"{queue_live_server.url}/embed/subscribe"
    answer = fetch_json(browser_page.page, url, {"email": "fetched@example.org"})
    assert answer == {
        "status": 200,
        "body": {"ok": True, "message": "Check your email to confirm your subscription."},
    }
    invalid = fetch_json(browser_page.page, url, {"email": "nope"})
    assert invalid["status"] == 422
    assert invalid["body"]["error"]["fields"]["email"]
    assert subscribers(app) == [("fetched@example.org", "pending")]


def test_an_unlisted_site_can_neither_post_nor_read(
    app, queue_live_server, browser_page, host_page
):
    page = browser_page.page
    answer = fetch_json(
        page, f"{queue_live_server.url}/embed/subscribe", {"email": "x@example.org"}
    )
    assert "blocked" in answer, answer  # the preflight is refused: the browser never posts

    page.get_by_label("Email address").fill("unlisted@example.org")
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_url(f"{queue_live_server.url}/embed/subscribe")
    expect(page.get_by_role("heading", level=1)).to_have_text("Subscribe")
    expect(page.locator("#page-signup-email-error")).to_contain_text("is not set up to sign")
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 0
        session.remove()


def test_an_editor_copies_the_snippet_from_the_admin(app, live_server, browser_page, site):
    page = browser_page.page
    page.goto(f"{live_server.url}/login")
    page.locator("#email").fill("editor@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Embeddable sign-up form").click()

    page.wait_for_url(f"{live_server.url}/admin/subscriptions/embed")
    expect(page.get_by_role("heading", level=1)).to_have_text("Embeddable sign-up form")
    code = page.locator("pre code")
    expect(code).to_contain_text('<form method="post" action="http://engage.test/embed/subscribe"')
    expect(code).to_contain_text("We respect your privacy. Unsubscribe at any time.")
    expect(page.get_by_text("No sites are configured yet")).to_be_visible()
    # The preview renders the snippet itself; its honeypot stays out of sight.
    preview = page.locator(".embed-preview")
    expect(preview.get_by_label("Email address")).to_be_visible()
    expect(preview.get_by_label("Leave this field empty")).to_be_hidden()
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/admin-embed.png", full_page=True)
