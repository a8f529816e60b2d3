"""Headers that keep personal pages private: HSTS in production, and `no-store` on every page
reached through a personal link, so no browser history cache or proxy keeps a copy."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engage.accounts.service import create_user
from engage.comments import emails as comment_emails
from engage.comments.models import Comment, Commenter
from engage.community import service as community
from engage.subscriptions import emails as subscription_emails
from engage.subscriptions import service as subscriptions
from engage.subscriptions.models import Topic
from engage.types import utcnow
from tests.articles.conftest import build_article
from tests.comments.conftest import add_reply
from tests.community.conftest import build_group
from tests.conftest import csrf_token

BASE = "http://engage.test"


def local(url: str) -> str:
    return url.removeprefix(BASE)


def test_production_asks_browsers_for_https_only(make_app):
    production = make_app(
        ENGAGE_ENV="production", SECRET_KEY="p" * 48, BASE_URL="https://engage.test"
    )
    response = production.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(re.search(r"max-age=(\d+)", response.headers["Strict-Transport-Security"])[1]) >= (
        365 * 86400
    )


def test_hsts_is_not_sent_outside_production(client):
    assert "Strict-Transport-Security" not in client.get("/").headers


@pytest.fixture
def personal_links(ctx, db):
    """One link of every kind a person gets by email, with the rows behind it."""
    moderator = create_user(db.session, "mod@example.org", "a long enough password", "moderator")
    db.session.add(Topic(slug="newsletter", name="The newsletter", is_default=True))
    signup = subscriptions.sign_up(
        db.session, "reader@example.org", topics=None, digest="off", source="t"
    )
    article = build_article(db.session)
    pending = add_reply(db.session, article, status="pending")
    commenter = Commenter(email_hash=pending.author_email_hash, email=pending.author_email)
    db.session.add(commenter)
    group = build_group(db.session)
    db.session.flush()
    urls = comment_emails.make_links(db.session, pending, moderator, utcnow())
    db.session.commit()
    return {
        "confirmation": local(
            subscription_emails.subscription_confirm(signup.subscriber, signup.consent)[
                "confirm_url"
            ]
        ),
        "preferences": local(subscription_emails.preferences_url(signup.subscriber)),
        "unsubscribe": local(subscription_emails.unsubscribe_url(signup.subscriber)),
        "reply notifications": local(
            comment_emails.comment_notify_confirm(commenter)["confirm_url"]
        ),
        "reply notifications off": local(comment_emails.unsubscribe_url(commenter)),
        "moderation": local(urls["approve"]),
        "organiser confirmation": local(
            f"{BASE}/community/confirm/{community.listing_token('organiser-verify', group)}"
        ),
        "organiser edit": local(
            f"{BASE}/community/edit/{community.listing_token('organiser-edit', group)}"
        ),
        "article": f"/articles/{article.slug}",
    }


def test_every_page_reached_by_a_personal_link_is_never_stored(client, personal_links):
    for name, url in personal_links.items():
        if name == "article":
            continue
        response = client.get(url)
        assert response.status_code == 200, name
        assert response.headers.get("Cache-Control") == "no-store", name
        broken = client.get(url[:-4] + "xxxx")  # a damaged link's error page, too
        assert broken.headers.get("Cache-Control") == "no-store", name
    # The preference centre's buttons answer with personal data as well.
    prefs = personal_links["preferences"]
    export = client.post(prefs + "/export", data={"csrf_token": csrf_token(client, prefs)})
    assert export.status_code == 200 and export.headers["Cache-Control"] == "no-store"


def test_public_pages_stay_cacheable(client, personal_links):
    response = client.get(personal_links["article"])
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_the_authors_own_reply_pages_are_never_stored(client, db, ctx):
    article = build_article(db.session)
    db.session.commit()
    data = {
        "csrf_token": csrf_token(client, f"/articles/{article.slug}"),
        "name": "Robin",
        "email": "robin@example.org",
        "body": "Thank you for this.",
    }
    assert client.post(f"/articles/{article.slug}/replies", data=data).status_code == 303
    comment = db.session.scalar(select(Comment))
    edit = client.get(f"/replies/{comment.id}/edit")
    assert edit.status_code == 200 and edit.headers["Cache-Control"] == "no-store"
    # The article page shows this browser its reply awaiting moderation: private too.
    page = client.get(f"/articles/{article.slug}")
    assert "reply-pending" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    comment.created_at = utcnow() - timedelta(minutes=16)
    db.session.commit()
    refused = client.get(f"/replies/{comment.id}/edit")
    assert refused.status_code == 403 and refused.headers["Cache-Control"] == "no-store"


def test_erasure_and_unsubscribe_answers_are_never_stored(client, db, ctx, personal_links):
    unsubscribe = client.post(personal_links["unsubscribe"])
    assert unsubscribe.status_code == 200 and unsubscribe.headers["Cache-Control"] == "no-store"
    prefs = personal_links["preferences"]
    erase = client.post(
        prefs + "/erase", data={"csrf_token": csrf_token(client, prefs), "sure": "y"}
    )
    assert erase.status_code == 200 and erase.headers["Cache-Control"] == "no-store"
