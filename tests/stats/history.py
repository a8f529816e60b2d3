"""Real rows for the statistics tests: subscribers with a known history over four UTC days,
bounce events, waiting work and one send, with the numbers each day must come to."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from engage.articles.models import Article
from engage.comments.models import Comment
from engage.community.models import SupportGroup
from engage.newsletters.models import Newsletter
from engage.sending.models import BounceEvent, Delivery, OutboxMessage
from engage.subscriptions.models import Subscriber


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def subscriber(session, name, created, confirmed=None, unsubscribed=None) -> Subscriber:
    status = "unsubscribed" if unsubscribed else "confirmed" if confirmed else "pending"
    row = Subscriber(
        email=f"{name}@example.org",
        email_hash=f"hash-{name}",
        status=status,
        created_at=created,
        confirmed_at=confirmed,
        unsubscribed_at=unsubscribed,
    )
    session.add(row)
    return row


def build(session, today: date) -> dict[date, dict]:
    """Four days ending `today` (its events at 00:00, so never after now). Flushes.

    Returns the expected row of each day."""
    d1, d2, d3 = (today - timedelta(n) for n in (3, 2, 1))
    subscriber(session, "ann", at(d1, 10), at(d1, 10, 5))
    ben = subscriber(session, "ben", at(d1, 23, 59), at(d2, 0, 1))
    subscriber(session, "cat", at(d2, 8))
    dan = subscriber(session, "dan", at(d1, 9), at(d1, 9, 10), at(d3, 15))
    eve = subscriber(session, "eve", at(d2, 12), None, at(d3, 16))  # left before confirming
    subscriber(session, "fay", at(d3, 23), at(today, 0))
    subscriber(session, "gil", at(today, 0), at(today, 0))
    session.flush()
    for kind, when, who in (
        ("hard", at(d2, 9), ben),
        ("soft", at(d2, 10), dan),
        ("soft", at(d3, 11), dan),
        ("complaint", at(today, 0), eve),
    ):
        session.add(
            BounceEvent(
                subscriber_id=who.id, kind=kind, source="test", occurred_at=when, diagnostic=""
            )
        )
    session.flush()
    zero = {"bounces_hard": 0, "bounces_soft": 0, "complaints": 0}
    return {
        d1: {
            **zero,
            "signups": 3,
            "confirmations": 2,
            "unsubscribes": 0,
            "confirmed_total": 2,
            "pending_total": 1,
            "unsubscribed_total": 0,
        },
        d2: {
            **zero,
            "signups": 2,
            "confirmations": 1,
            "unsubscribes": 0,
            "bounces_hard": 1,
            "bounces_soft": 1,
            "confirmed_total": 3,
            "pending_total": 2,
            "unsubscribed_total": 0,
        },
        d3: {
            **zero,
            "signups": 1,
            "confirmations": 0,
            "unsubscribes": 2,
            "bounces_soft": 1,
            "confirmed_total": 2,
            "pending_total": 2,
            "unsubscribed_total": 2,
        },
        today: {
            **zero,
            "signups": 1,
            "confirmations": 2,
            "unsubscribes": 0,
            "complaints": 1,
            "confirmed_total": 4,
            "pending_total": 1,
            "unsubscribed_total": 2,
        },
    }


def waiting_work(session, now: datetime) -> None:
    """Two replies to moderate (one held for care), a group to review, one failed email."""
    article = Article(slug="on-waiting", title="On waiting", body_markdown="Text", published_at=now)
    session.add(article)
    session.flush()
    for name, care in (("Kim", False), ("Lee", True)):
        session.add(
            Comment(
                article_id=article.id,
                author_name=name,
                author_email_hash=f"hash-{name}",
                body_markdown="Hello",
                body_html="<p>Hello</p>",
                status="pending",
                flag_needs_care=care,
            )
        )
    session.add(SupportGroup(slug="tuesday-circle", name="Tuesday circle", format="online"))
    session.add(
        OutboxMessage(
            task="engage.send_email",
            email="subscription_confirm",
            recipient="someone@example.org",
            status="failed",
            last_error="550 5.1.1 unknown user",
            finished_at=now,
        )
    )
    session.flush()


def one_send(session, started: datetime) -> Newsletter:
    """A send to the history's readers: ann and fay delivered, ben bounced hard, cat deferred,
    dan delivered and unsubscribed within seven days of it. Flushes."""
    newsletter = Newsletter(subject="Autumn letter", status="sent", started_at=started)
    session.add(newsletter)
    session.flush()
    people = {s.email.split("@")[0]: s for s in session.query(Subscriber)}
    for name, values in (
        ("ann", {"status": "sent", "sent_at": started}),
        ("fay", {"status": "sent", "sent_at": started}),
        ("dan", {"status": "sent", "sent_at": started}),
        ("ben", {"status": "failed", "bounce": "hard"}),
        ("cat", {"status": "pending", "attempts": 1, "first_deferred_at": started}),
    ):
        session.add(Delivery(newsletter_id=newsletter.id, subscriber_id=people[name].id, **values))
    session.flush()
    return newsletter
