"""Fixtures for the editor's newsletter screens: topics, confirmed readers, signed-in staff."""

from __future__ import annotations

import re
from itertools import count

import pytest

from engage.accounts.service import create_user
from engage.newsletters.models import Newsletter
from engage.sending.models import Delivery
from engage.subscriptions.models import Subscriber, Topic
from engage.subscriptions.service import address_hash
from engage.types import utcnow

PASSWORD = "correct horse battery staple"
_serial = count(1)


def build_topics(session) -> dict[str, Topic]:
    topics = {
        "newsletter": Topic(slug="newsletter", name="The newsletter", is_default=True),
        "groups-news": Topic(slug="groups-news", name="News about support groups"),
    }
    session.add_all(topics.values())
    session.flush()
    return topics


def build_subscriber(session, topics: list[Topic], status: str = "confirmed", email=None):
    email = email or f"reader{next(_serial)}@example.org"
    subscriber = Subscriber(
        email=email,
        email_hash=address_hash(email),
        status=status,
        confirmed_at=utcnow() if status == "confirmed" else None,
        topics=list(topics),
    )
    session.add(subscriber)
    session.flush()
    return subscriber


def build_newsletter(session, topics: list[Topic], **values) -> Newsletter:
    fields = {
        "subject": f"News number {next(_serial)}",
        "preheader": "What is new this month",
        "body_markdown": "Hello **readers**.\n\n[Read more](https://example.org/more)",
        "status": "draft",
        "created_at": utcnow(),
    }
    fields.update(values)
    newsletter = Newsletter(**fields)
    newsletter.topics = list(topics)
    session.add(newsletter)
    session.flush()
    return newsletter


def build_deliveries(session, newsletter, subscribers, statuses, reply="") -> list[Delivery]:
    rows = []
    for subscriber, status in zip(subscribers, statuses, strict=True):
        rows.append(
            Delivery(
                newsletter_id=newsletter.id,
                subscriber_id=subscriber.id,
                status=status,
                sent_at=utcnow() if status == "sent" else None,
                smtp_reply=reply if status == "failed" else "250 OK",
            )
        )
    session.add_all(rows)
    session.flush()
    return rows


@pytest.fixture
def topics(ctx, db):
    built = build_topics(db.session)
    db.session.commit()
    return built


@pytest.fixture
def readers(topics, db):
    """Three confirmed readers of the newsletter (one also of groups-news), one pending."""
    news, groups = topics["newsletter"], topics["groups-news"]
    confirmed = [
        build_subscriber(db.session, [news]),
        build_subscriber(db.session, [news]),
        build_subscriber(db.session, [news, groups]),
    ]
    build_subscriber(db.session, [news], status="pending")
    db.session.commit()
    return confirmed


def sign_in(client, user) -> None:
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


@pytest.fixture
def editor(ctx, db):
    user = create_user(db.session, "editor@example.org", PASSWORD, "editor", "Eda")
    db.session.commit()
    return user


@pytest.fixture
def editor_client(client, editor):
    sign_in(client, editor)
    return client


@pytest.fixture
def make_newsletter(topics, db):
    def make(**values) -> Newsletter:
        chosen = values.pop("topics", [topics["newsletter"]])
        newsletter = build_newsletter(db.session, chosen, **values)
        db.session.commit()  # as a real row would be: a view's rollback keeps it
        return newsletter

    return make


def token_from(page: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def form_post(client, url: str, data: dict, page_url: str | None = None):
    """POST `data` to `url` with the CSRF token from `page_url` (default: `url`)."""
    page = client.get(page_url or url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": token_from(page), **data})
