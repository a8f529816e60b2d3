"""Every public page on a phone and a desktop, in headless Chromium against the live app:
nothing scrolls sideways, axe-core finds no WCAG 2.2 AA violation, and the things a thumb
presses (buttons, checkboxes, radios, navigation links) are at least 24×24 CSS px.

Set ENGAGE_SCREENSHOTS to a folder to keep screenshots of each page, to look at.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select

from engage import demo
from engage.accounts.service import create_user
from engage.articles.models import Article
from engage.comments import service as comments
from engage.comments.emails import comment_notify_confirm
from engage.newsletters.models import Newsletter
from engage.newsletters.public import web_version_path
from engage.subscriptions import emails as subscription_emails
from engage.subscriptions import service as subscriptions
from engage.tokens import make_link_token
from engage.types import utcnow
from engage.urls import external_url
from tests.articles.conftest import build_article
from tests.community.conftest import build_event, build_group

pytestmark = pytest.mark.browser

WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDTHS = (1280, 390, 320)
SHOTS = Path(os.environ["ENGAGE_SCREENSHOTS"]) if os.environ.get("ENGAGE_SCREENSHOTS") else None
# Text people type with no spaces in it: it must wrap, not push the page wider.
LONG_URL = "https://meet.example.org/j/" + "9" * 60 + "?pwd=" + "AbCdEf" * 12
LONG_WORD = "Supercalifragilisticexpialidocious" * 3

# What 2.5.8 asks of every control a finger presses. Links inside sentences are exempt
# (axe's target-size rule checks those with their spacing); these are never inline text.
TARGETS = """() => [...document.querySelectorAll(
      'button, input[type=checkbox], input[type=radio], input[type=submit], select, '
    + '.site-nav a, .brand, .see-all a, .teaser-link')]
  .filter(e => e.offsetParent !== null && !e.closest('[aria-hidden=true]'))
  .map(e => { const r = e.getBoundingClientRect();
              return [e.outerHTML.slice(0, 90), Math.round(r.width), Math.round(r.height)]; })
  .filter(([, w, h]) => w < 24 || h < 24)"""
FOCUS_RING = """() => { const s = getComputedStyle(document.activeElement);
  return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"""
WIDER_THAN = """w => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > w + 1)
  .filter(e => !e.closest('.table-scroll'))
  .slice(0, 5).map(e => e.tagName + '.' + e.className)"""


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture
def public_pages(app, committed) -> dict[str, str]:
    """The demo content plus what a hard case looks like (long URLs and words in listings, a
    reply and a newsletter), a pending and a confirmed subscriber and a reply author.
    Committed for the live server; returns {name: path} of every public page."""
    with app.test_request_context():  # a request context: the paths are built with url_for
        session = committed.session
        now = utcnow()
        demo.load(session, password="browser-test-password")
        group = build_group(
            session,
            slug="long-words",
            name="Long words group",
            description=f"We meet online: {LONG_URL}\n\n{LONG_WORD}",
            how_to_join=f"Join at {LONG_URL}",
            contact=LONG_URL,
        )
        build_event(
            session,
            slug="long-link",
            title=f"An evening with {LONG_WORD}",
            group_id=group.id,
            online_url=LONG_URL,
            location="",
            description=f"The link: {LONG_URL}",
        )
        article = session.scalar(select(Article).order_by(Article.id))
        posted = comments.post_reply(
            session,
            article,
            name="Sam",
            email="sam@example.org",
            body=f"This helped. The group's page: {LONG_URL} and {LONG_WORD}",
        )
        comments.moderate(session, posted.comment, "approve", seen=None)
        newsletter = Newsletter(
            subject="Autumn news",
            preheader="Three new groups",
            body_markdown=f"Hello,\n\nThree new groups: {LONG_URL}\n\n{LONG_WORD}",
            status="sent",
            started_at=now - timedelta(hours=1),
            finished_at=now,
        )
        session.add(newsletter)
        pending = subscriptions.sign_up(
            session, "pending@example.org", topics=None, digest=None, source="test"
        )
        confirmed = subscriptions.sign_up(
            session, "reader@example.org", topics=None, digest=None, source="test"
        )
        subscriptions.confirm(session, confirmed.subscriber.id, confirmed.consent.id)
        commenter = comments.get_commenter(session, posted.comment.author_email_hash)
        session.flush()
        confirm_token = make_link_token(
            "confirm",
            {"s": pending.subscriber.id, "c": pending.consent.id},
            subscription_emails.subscriber_link_key(pending.subscriber),
        )
        pages = {
            "home": "/",
            "article": f"/articles/{article.slug}",
            "groups": "/groups",
            "group": "/groups/long-words",
            "events": "/events",
            "event": "/events/long-link",
            "archive": "/newsletters",
            "newsletter": web_version_path(newsletter),
            "subscribe": "/subscribe",
            "check-email": "/subscribe/check-your-email",
            "confirm": _path(external_url("subscriptions.confirm", token=confirm_token)),
            "preferences": _path(subscription_emails.preferences_url(confirmed.subscriber)),
            "unsubscribe": _path(subscription_emails.unsubscribe_url(confirmed.subscriber)),
            "reply-notifications": _path(comment_notify_confirm(commenter)["confirm_url"]),
            "submit-group": "/groups/submit",
            "submit-event": "/events/submit",
            "about": "/about",
            "privacy": "/privacy",
            "login": "/login",
            "not-found": "/no-such-page",
        }
        session.commit()
        session.remove()
    return pages


@pytest.mark.parametrize("width", WIDTHS)
def test_every_public_page_fits_passes_axe_and_has_big_targets(
    live_server, chromium, public_pages, width
):
    # The newsletter's web version is served with a CSP sandbox that runs no script at all,
    # axe-core's included: this context ignores CSP so axe can read that page too.
    context = chromium.new_context(
        bypass_csp=True, locale="en-GB", viewport={"width": width, "height": 900}
    )
    page = context.new_page()
    if SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    problems = []
    for name, path in public_pages.items():
        response = page.goto(live_server.url + path)
        expected = 404 if name == "not-found" else 200
        assert response.status == expected, f"{name} {path}: {response.status}"
        scroll, client = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        if scroll > client:
            problems.append(
                f"{name}: {scroll}px wide at {width}px: {page.evaluate(WIDER_THAN, client)}"
            )
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
        if results.violations_count:
            problems.append(f"{name}:\n{results.generate_report()}")
        if name == "home":
            # Keyboard focus shows: the skip link, then the site's name, each with a ring.
            for _ in range(2):
                page.keyboard.press("Tab")
                style, ring = page.evaluate(FOCUS_RING)
                if style == "none" or ring < 2:
                    problems.append(f"home: focus does not show at {width}px ({style} {ring}px)")
        small = page.evaluate(TARGETS)
        if small:
            problems.append(f"{name}: targets under 24×24 px: {small}")
        if SHOTS and (width == 390 or (width == 1280 and name == "home")):
            page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    context.close()
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("width", (1280, 390))
def test_the_queue_offers_the_kind_note_unticked(live_server, browser_page, app, committed, width):
    with app.app_context():
        session = committed.session
        article = build_article(session, slug="queue-article", title="A first meeting")
        create_user(session, "mod@example.org", "a long enough password", "moderator")
        posted = comments.post_reply(
            session, article, name="Sam", email="sam@example.org", body="Hello.", notify=True
        )
        commenter = comments.get_commenter(session, posted.comment.author_email_hash)
        comments.confirm_notifications(session, commenter.id)
        session.commit()
        session.remove()
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/login")
    page.locator("#email").fill("mod@example.org")
    page.locator("#password").fill("a long enough password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/comments/")
    note = page.get_by_label("Send the author a kind note")
    assert note.is_visible() and not note.is_checked()
    box = note.bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    assert results.violations_count == 0, results.generate_report()
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, page.evaluate(WIDER_THAN, width)
    if SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"moderation-queue-{width}.png"), full_page=True)
