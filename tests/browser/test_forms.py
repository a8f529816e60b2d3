"""The reader's forms in headless Chromium: every error at once, in a summary whose links lead to
the fields, the page back at the form, the author's reply in place, one sign-up form per page,
unique ids, a preference centre that says when a reader is unsubscribed, and the consent text
stored exactly as the form showed it.

Set ENGAGE_SCREENSHOTS to a folder to keep screenshots of each page at 1280 and 390 px.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import select

from engage.accounts.service import create_user
from engage.comments.models import Comment
from engage.extensions import limiter
from engage.subscriptions import emails as subscription_emails
from engage.subscriptions import service as subscriptions
from engage.subscriptions.consent import SIGN_UP, SUBSCRIBE_AGAIN
from engage.subscriptions.models import Consent, Subscriber, Topic
from engage.types import utcnow
from tests.articles.conftest import build_article
from tests.support.tasks import run_queued

pytestmark = pytest.mark.browser

BASE_URL = "http://engage.test"
PASSWORD = "a long enough password"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SHOTS = os.environ.get("ENGAGE_SCREENSHOTS")
ARTICLE = "/articles/first-steps"


@pytest.fixture
def scene(app, committed):
    """Topics, an article, a confirmed reader and an editor, committed for the live server.
    Returns the reader's personal paths (preferences, unsubscribe, a confirmation link)."""
    with app.app_context():
        limiter.reset()
        session = committed.session
        session.add_all(
            [
                Topic(slug="newsletter", name="The newsletter", is_default=True),
                Topic(slug="groups-news", name="News about support groups"),
            ]
        )
        build_article(session, slug="first-steps", title="First steps into a group")
        create_user(session, "editor@example.org", PASSWORD, "editor")
        signed = subscriptions.sign_up(
            session, "reader@example.org", topics=["newsletter"], digest="weekly", source="t"
        )
        confirm = subscription_emails.subscription_confirm(signed.subscriber, signed.consent)
        subscriptions.confirm(session, signed.subscriber.id, signed.consent.id)
        # Signed up yesterday: today's "Subscribe again" is past the confirmations' cooldown.
        signed.subscriber.last_confirmation_sent_at = utcnow() - timedelta(days=1)
        paths = {
            "preferences": subscription_emails.preferences_url(signed.subscriber),
            "unsubscribe": subscription_emails.unsubscribe_url(signed.subscriber),
            "confirm": confirm["confirm_url"],
        }
        session.commit()
        session.remove()
    return {name: url.removeprefix(BASE_URL) for name, url in paths.items()}


def shoot(page, name: str) -> None:
    """Keep a full-page screenshot at 1280 and 390 px wide when ENGAGE_SCREENSHOTS is set."""
    if not SHOTS:
        return
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(Path(SHOTS) / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def focused(page) -> dict:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            return {id: el.id, tag: el.tagName.toLowerCase(), name: el.getAttribute('name'),
                    text: (el.textContent || '').trim(), href: el.getAttribute('href')};
        }"""
    )


def tab_until(page, wanted, limit: int = 60) -> list[dict]:
    """Press Tab until `wanted(focused element)` holds; returns the elements passed."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(focused(page))
        assert seen[-1]["name"] != "website", "the honeypot must never take focus"
        if wanted(seen[-1]):
            return seen
    pytest.fail(f"Tab never reached the element: {seen}")


def duplicate_ids(page) -> dict[str, int]:
    return page.evaluate(
        """() => {
            const counts = {};
            for (const el of document.querySelectorAll('[id]')) {
                counts[el.id] = (counts[el.id] || 0) + 1;
            }
            return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 1));
        }"""
    )


def signup_forms(page) -> int:
    return page.locator("form[action^='/subscribe']").count()


def assert_axe_clean(page, what: str) -> None:
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


# --- the reply form -------------------------------------------------------------------------


def test_three_reply_errors_at_once_beside_their_fields_with_the_text_kept(
    live_server, browser_page, scene, app
):
    page = browser_page.page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + ARTICLE)
    page.fill("#reply-body", "   ")
    page.fill("#reply-email", "robin@")
    page.check("#reply-notify")
    page.get_by_role("button", name="Post reply").click()

    # Back at the form: the URL's anchor is the form, the summary has focus and is in view.
    page.wait_for_url(re.compile(r".*/replies#reply-errors$"))
    summary = page.locator("#reply-errors")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    expect(summary).to_have_attribute("role", "alert")
    expect(summary.get_by_role("heading")).to_have_text("3 things to fix")
    links = summary.get_by_role("link")
    expect(links).to_have_count(3)
    assert [links.nth(i).get_attribute("href") for i in range(3)] == [
        "#reply-body",
        "#reply-name",
        "#reply-email",
    ]
    expect(links.nth(0)).to_have_text("Please write your reply.")
    expect(links.nth(1)).to_have_text("Please enter a name to show with your reply.")
    for field in ("body", "name", "email"):
        control = page.locator(f"#reply-{field}")
        expect(control).to_have_attribute("aria-invalid", "true")
        described = control.get_attribute("aria-describedby").split()
        assert f"reply-{field}-error" in described
        message = page.locator(f"#reply-{field}-error")
        expect(message).to_be_visible()
        expect(message).to_have_text(links.nth(("body", "name", "email").index(field)).inner_text())
    expect(page.locator("#reply-email")).to_have_value("robin@")  # what was typed is kept
    expect(page.locator("#reply-notify")).to_be_checked()
    shoot(page, "article-reply-errors")
    assert_axe_clean(page, "the article with reply errors")

    # A link in the summary puts the cursor in its field.
    links.nth(1).click()
    expect(page.locator("#reply-name")).to_be_focused()

    # Fix two of three: the one left is the only one shown, and the rest is kept.
    page.fill("#reply-body", "Thank you for writing this.")
    page.fill("#reply-name", "Robin")
    page.get_by_role("button", name="Post reply").click()
    expect(page.locator("#reply-errors li")).to_have_count(1)
    expect(page.locator("#reply-errors")).to_contain_text("email address")
    expect(page.locator("#reply-body")).to_have_value("Thank you for writing this.")
    expect(page.locator("#reply-name")).to_have_value("Robin")
    expect(page.locator("#reply-name")).not_to_have_attribute("aria-invalid", "true")
    with app.app_context():
        assert app.extensions["sqlalchemy"].session.scalar(select(Comment.id)) is None
        app.extensions["sqlalchemy"].session.remove()


def test_without_scripts_the_refused_reply_still_opens_at_the_form(live_server, chromium, scene):
    context = chromium.new_context(java_script_enabled=False, locale="en-GB")
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(live_server.url + ARTICLE)
    page.fill("#reply-body", "Words I do not want to lose.")
    page.get_by_role("button", name="Post reply").click()
    page.wait_for_url(re.compile(r".*#reply-errors$"))
    expect(page.locator("#reply-form")).to_be_in_viewport()
    expect(page.locator("#reply-errors li")).to_have_count(2)
    expect(page.locator("#reply-body")).to_have_value("Words I do not want to lose.")
    context.close()


def test_a_reply_with_the_keyboard_only_then_shown_in_place_to_its_author(
    live_server, browser_page, scene, app
):
    page = browser_page.page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + ARTICLE)
    expect(page.locator("#replies-count")).to_have_text("No replies yet")
    expect(page.get_by_role("heading", name=re.compile("leave a reply", re.I))).to_have_count(1)

    tab_until(page, lambda el: el["id"] == "reply-body")
    page.keyboard.type("It took me three tries to go in. Worth it.")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "reply-name"
    page.keyboard.type("Sam")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "reply-email"
    page.keyboard.type("sam@example.org")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "reply-notify"
    seen = tab_until(page, lambda el: el["tag"] == "button")
    assert seen[-1]["text"] == "Post reply", seen
    page.keyboard.press("Enter")

    # The author's reply in place, marked; the count says what the public sees.
    page.wait_for_url(re.compile(rf".*{ARTICLE}#c-\d+$"))
    mine = page.locator(".reply-pending")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("It took me three tries to go in.")
    expect(mine.locator(".awaiting")).to_have_text("Waiting for a moderator")
    expect(mine).to_be_in_viewport()
    expect(page.locator("#replies-count")).to_have_text("No replies yet")
    expect(page.locator("text=0 replies")).to_have_count(0)
    shoot(page, "article-after-posting")
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        assert session.scalar(select(Comment.status)) == "pending"
        session.remove()

    # Nobody else sees it.
    other = page.context.browser.new_context(locale="en-GB").new_page()
    other.goto(live_server.url + ARTICLE)
    expect(other.locator(".reply-pending")).to_have_count(0)
    expect(other.get_by_text("It took me three tries")).to_have_count(0)
    other.context.close()


# --- the sign-up form -----------------------------------------------------------------------


def test_sign_up_with_tab_and_enter_only_through_a_mistake(live_server, browser_page, scene, app):
    page = browser_page.page
    page.goto(live_server.url + ARTICLE)
    tab_until(page, lambda el: el["id"] == "article-signup-email")
    page.keyboard.type("not an address")
    order = tab_until(page, lambda el: el["tag"] == "button" and el["text"] == "Subscribe")
    assert [el["id"] for el in order[:3]] == [
        "article-signup-topics-newsletter",
        "article-signup-topics-groups-news",
        "article-signup-digest-off",
    ]
    page.keyboard.press("Enter")

    # The page comes back at the form with the summary focused; Tab, Enter reach the field.
    page.wait_for_url(re.compile(r".*/subscribe$"))
    expect(page.locator("#page-signup-errors")).to_be_focused()
    expect(page.locator("#page-signup-errors")).to_be_in_viewport()
    assert duplicate_ids(page) == {}
    assert_axe_clean(page, "the sign-up page with an error")
    expect(page.locator("#page-signup-errors")).to_be_focused()
    page.keyboard.press("Tab")
    assert focused(page)["href"] == "#page-signup-email"
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "page-signup-email"
    page.keyboard.press("Control+A")
    page.keyboard.type("keys@example.org")
    tab_until(page, lambda el: el["tag"] == "button" and el["text"] == "Subscribe")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/subscribe/check-your-email"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        row = session.scalar(select(Subscriber).where(Subscriber.email == "keys@example.org"))
        assert row is not None and row.status == "pending"
        session.remove()


def test_the_consent_record_holds_the_words_the_form_showed(live_server, browser_page, scene, app):
    page = browser_page.page
    page.goto(live_server.url + ARTICLE)
    box = page.locator("aside.article-signup")
    shown = box.locator(".signup-consent").inner_text()
    assert shown == SIGN_UP.text
    box.get_by_label("Email address").fill("words@example.org")
    box.get_by_role("button", name="Subscribe").click()
    page.wait_for_url(re.compile(r".*/subscribe/check-your-email"))
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        consent = session.scalar(
            select(Consent).join(Subscriber).where(Subscriber.email == "words@example.org")
        )
        assert (consent.text, consent.version) == (shown, SIGN_UP.version)
        assert consent.source == f"form:{ARTICLE}"
        session.remove()


def test_one_sign_up_form_on_the_article_and_none_where_it_does_not_belong(
    live_server, browser_page, scene
):
    page = browser_page.page
    base = live_server.url
    page.goto(base + ARTICLE)
    assert signup_forms(page) == 1
    assert page.locator("aside.article-signup form").count() == 1
    assert duplicate_ids(page) == {}

    # "You are subscribed", the confirmation page before it, the preference centre, the
    # unsubscribe page, the login page and a staff page: no sign-up form, no repeated id.
    page.goto(base + scene["confirm"])
    assert (signup_forms(page), duplicate_ids(page)) == (0, {})
    page.get_by_role("button", name="Yes, subscribe me").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("already confirmed"))
    assert (signup_forms(page), duplicate_ids(page)) == (0, {})
    for path in (scene["preferences"], scene["unsubscribe"], "/login"):
        page.goto(base + path)
        assert (signup_forms(page), duplicate_ids(page)) == (0, {}), path
    page.locator("#email").fill("editor@example.org")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/admin/")
    assert signup_forms(page) == 0
    page.goto(base + "/admin/newsletters/")
    assert signup_forms(page) == 0


# --- the preference centre ------------------------------------------------------------------


def test_the_preference_centre_after_unsubscribing_and_subscribing_again(
    queue_live_server, queue_app, browser_page, scene, app, smtp_server
):
    page = browser_page.page
    page.set_viewport_size({"width": 1280, "height": 900})
    base = queue_live_server.url
    page.goto(base + scene["preferences"])
    expect(page.get_by_role("checkbox", name="The newsletter")).to_be_checked()
    expect(page.get_by_role("radio", name="Weekly")).to_be_checked()
    danger = page.locator(".danger-zone")
    save = page.get_by_role("button", name="Save my choices")
    # Unsubscribe and erase look dangerous and stand apart from Save.
    assert danger.locator("a.button-danger").count() == 2
    assert save.evaluate("el => !el.closest('.danger-zone')")
    colour = danger.locator("a.button-danger").first.evaluate("e => getComputedStyle(e).color")
    assert colour != save.evaluate("e => getComputedStyle(e).color")
    assert duplicate_ids(page) == {}
    shoot(page, "preferences-subscribed")
    assert_axe_clean(page, "the preference centre")

    page.get_by_role("link", name="Erase my data…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Erase your data?")
    assert duplicate_ids(page) == {}
    shoot(page, "erase-confirmation")
    assert_axe_clean(page, "the erase confirmation")
    page.get_by_role("button", name="Erase my data").click()  # the box is not ticked
    expect(page.locator("#erase-errors")).to_be_focused()
    expect(page.locator("#erase-sure")).to_have_attribute("aria-invalid", "true")
    page.get_by_role("link", name="No, keep my data").click()

    page.get_by_role("link", name="Unsubscribe from everything…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe from everything?")
    assert_axe_clean(page, "the unsubscribe confirmation")
    page.get_by_role("button", name="Yes, unsubscribe me").click()

    # Said plainly; no choice shown as if it were still active.
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    expect(page.get_by_text("We send you nothing")).to_be_visible()
    assert page.locator("input:checked").count() == 0
    assert page.get_by_role("button", name="Save my choices").count() == 0
    assert page.get_by_role("link", name="Unsubscribe from everything…").count() == 0
    assert duplicate_ids(page) == {}
    shoot(page, "preferences-unsubscribed")
    assert_axe_clean(page, "the preference centre, unsubscribed")

    # "Subscribe again" goes through double opt-in, with its own words on record.
    expect(page.locator("#subscribe-again-consent")).to_have_text(SUBSCRIBE_AGAIN.text)
    page.get_by_role("button", name="Subscribe again").click()
    page.wait_for_url(f"{base}/subscribe/check-your-email")
    assert run_queued(queue_app) == ["engage.send_email"]
    [confirmation] = smtp_server.wait_for(1)
    assert confirmation.rcpt_tos == ["reader@example.org"]
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        reader = session.scalar(select(Subscriber))
        assert reader.status == "unsubscribed"  # until the link in that email is pressed
        assert [c.text for c in reader.consents][-1] == SUBSCRIBE_AGAIN.text
        session.remove()


def test_the_organiser_form_lists_every_error_and_marks_no_needed_field_optional(
    live_server, browser_page, scene
):
    page = browser_page.page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + "/groups/submit")
    for name in ("region", "city"):
        expect(page.locator(f"label[for={name}]")).not_to_contain_text("optional")
    page.fill("#name", "Tuesday circle")
    page.get_by_role("button", name="Send for review").click()
    page.wait_for_url(re.compile(r".*/groups/submit$"))
    summary = page.locator("#group-form-errors")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    hrefs = summary.get_by_role("link").evaluate_all("links => links.map(a => a.hash)")
    assert len(hrefs) >= 4 and "#region" in hrefs and "#organiser_email" in hrefs, hrefs
    for href in hrefs:
        assert page.locator(href).count() == 1, href  # every link leads to a field
    expect(page.locator("#name")).to_have_value("Tuesday circle")
    expect(page.locator("#region")).to_have_attribute("aria-invalid", "true")
    assert duplicate_ids(page) == {}
    shoot(page, "organiser-form-errors")
    assert_axe_clean(page, "the organiser form with errors")
