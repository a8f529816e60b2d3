"""The bounce rule: what a hard bounce, soft bounces and a complaint do to a reader, once.

Every report goes through `bounces.apply`, whatever brought it (the SMTP session, a DSN, an
abuse report, a provider's webhook); these tests call it as those do and look at the rows.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engage.mail import emails
from engage.mail.service import queue_email
from engage.sending import bounces, verp
from engage.sending.bounces import BounceReport
from engage.sending.models import BounceEvent, Delivery, OutboxMessage
from engage.subscriptions.models import Subscriber, Suppression
from engage.subscriptions.service import address_hash, is_suppressed
from engage.types import utcnow
from tests.newsletters.conftest import add_newsletter, add_readers, add_topic


@pytest.fixture
def sent(ctx, db):
    """`sent(n)` → n delivery rows of one newsletter, each to a confirmed reader, all sent."""

    def make(count: int = 1) -> list[Delivery]:
        topic = add_topic(db.session)
        addresses = add_readers(db.session, count, [topic])
        newsletter = add_newsletter(db.session, [topic])
        rows = []
        for address in addresses:
            reader = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
            row = Delivery(
                newsletter_id=newsletter.id,
                subscriber_id=reader.id,
                status="sent",
                sent_at=utcnow(),
            )
            db.session.add(row)
            rows.append(row)
        db.session.flush()
        return rows

    return make


def token_for(row: Delivery) -> verp.VerpToken:
    """The token as the bounce's VERP address gives it back (checked, like the parser does)."""
    from flask import current_app

    key = current_app.config["ENGAGE"].hash_key
    address = verp.address("bounces@engage.test", key, verp.DELIVERY, row.id)
    return verp.parse(address, key, "bounces@engage.test")


def reader_of(db, row: Delivery) -> Subscriber:
    return db.session.get(Subscriber, row.subscriber_id)


def events(db) -> list[BounceEvent]:
    return list(db.session.scalars(select(BounceEvent).order_by(BounceEvent.id)))


def test_a_hard_bounce_suppresses_the_reader_at_once(db, sent):
    [row] = sent()
    reader = reader_of(db, row)
    event = bounces.apply(
        db.session,
        BounceReport(
            kind="hard",
            recipient=None,
            token=token_for(row),
            status="5.1.1",
            diagnostic=f"smtp; 550 5.1.1 <{reader.email}>: Recipient address rejected",
            source="dsn",
        ),
    )
    assert event is not None and event.kind == "hard"
    assert reader.status == "unsubscribed"
    assert is_suppressed(db.session, reader.email)
    assert row.bounce == "hard"
    assert event.subscriber_id == reader.id and event.delivery_id == row.id
    assert event.email_hash == reader.email_hash
    # The server's words are kept, but not the address in them.
    assert reader.email not in event.diagnostic
    assert "Recipient address rejected" in event.diagnostic


@pytest.mark.parametrize("status", ["5.7.1", "5.2.2", "4.2.2", "5.1.8"])
def test_a_refusal_that_is_not_about_the_address_counts_as_soft(db, sent, status):
    [row] = sent()
    reader = reader_of(db, row)
    event = bounces.apply(
        db.session,
        BounceReport(
            kind="hard", recipient=None, token=token_for(row), status=status, source="dsn"
        ),
    )
    assert event.kind == "soft"
    assert reader.status == "confirmed"
    assert not is_suppressed(db.session, reader.email)
    assert row.bounce == "soft"


def soft(db, row: Delivery | None, address: str | None, when, **extra):
    return bounces.apply(
        db.session,
        BounceReport(
            kind="soft",
            recipient=address,
            token=token_for(row) if row is not None else None,
            status="4.2.2",
            source="dsn",
            occurred_at=when,
            **extra,
        ),
        now=when,
    )


def test_soft_bounces_suppress_at_the_limit_within_the_window(db, sent):
    rows = sent(1) + sent(1) + sent(1)  # three newsletters...
    # ...to one reader: the rows were made for three readers; point them at the first.
    reader = reader_of(db, rows[0])
    for row in rows[1:]:
        row.subscriber_id = reader.id
    db.session.flush()
    start = utcnow() - timedelta(days=20)
    soft(db, rows[0], None, start)
    soft(db, rows[1], None, start + timedelta(days=5))
    assert reader.status == "confirmed" and not is_suppressed(db.session, reader.email)
    soft(db, rows[2], None, start + timedelta(days=10))  # the third within 30 days
    assert reader.status == "unsubscribed"
    assert (
        db.session.scalar(
            select(Suppression.reason).where(Suppression.email_hash == reader.email_hash)
        )
        == "bounced"
    )


def test_soft_bounces_spread_over_more_than_the_window_do_not_suppress(db, sent):
    [row] = sent()
    reader = reader_of(db, row)
    start = utcnow() - timedelta(days=90)
    # By address: reports that name no row (each one its own provider event).
    for days, event_id in ((0, "a"), (31, "b"), (62, "c")):
        assert soft(db, None, reader.email, start + timedelta(days=days), event_id=event_id)
    assert len(events(db)) == 3
    assert reader.status == "confirmed"
    assert not is_suppressed(db.session, reader.email)


def test_a_complaint_unsubscribes_and_suppresses(db, sent):
    [row] = sent()
    reader = reader_of(db, row)
    event = bounces.apply(
        db.session,
        BounceReport(kind="complaint", recipient=reader.email, token=None, source="arf"),
    )
    assert event.kind == "complaint"
    assert reader.status == "unsubscribed"
    assert all(consent.withdrawn_at is not None for consent in reader.consents)
    assert (
        db.session.scalar(
            select(Suppression.reason).where(Suppression.email_hash == reader.email_hash)
        )
        == "complaint"
    )


def test_the_same_report_twice_counts_once(db, sent):
    [row] = sent()
    reader = reader_of(db, row)
    report = BounceReport(
        kind="soft", recipient=None, token=token_for(row), status="4.2.2", source="dsn"
    )
    assert bounces.apply(db.session, report) is not None
    # The same kind about the same message, from anywhere: nothing new.
    assert bounces.apply(db.session, report) is None
    assert bounces.apply(db.session, BounceReport(**{**report.__dict__, "source": "ses"})) is None
    # The same provider event id twice: nothing new, even without a row.
    by_id = BounceReport(
        kind="soft", recipient=reader.email, token=None, source="postmark", event_id="ev-1"
    )
    assert bounces.apply(db.session, by_id) is not None
    assert bounces.apply(db.session, by_id) is None
    assert len(events(db)) == 2
    assert reader.status == "confirmed"


def test_a_bounce_with_a_forged_token_changes_nothing(db, sent):
    """Anyone can mail the bounce address a made-up DSN naming a reader; with a VERP address
    whose check fails, it names nobody, and the reader stays subscribed."""
    from flask import current_app

    from engage.sending.bounce_mail import parse_message
    from tests.sending.test_bounce_mail import sample

    [victim] = sent()
    reader = reader_of(db, victim)
    forged = verp.address(
        "bounces@engage.test", "not-our-key-not-our-key", verp.DELIVERY, victim.id
    )
    assert verp.parse(forged, current_app.config["ENGAGE"].hash_key) is None
    reports = parse_message(sample("postfix_dsn.eml", forged, reader.email))
    assert reports == []
    assert reader.status == "confirmed"
    assert not is_suppressed(db.session, reader.email)
    assert events(db) == []


def test_a_report_that_names_nobody_changes_nothing(db, sent):
    sent()
    before = db.session.scalar(select(func.count()).select_from(Suppression))
    assert bounces.apply(db.session, BounceReport(kind="hard", recipient=None, token=None)) is None
    assert (
        bounces.apply(db.session, BounceReport(kind="hard", recipient="not an address", token=None))
        is None
    )
    assert db.session.scalar(select(func.count()).select_from(Suppression)) == before


def test_a_stranger_s_address_is_suppressed_without_being_stored(ctx, db):
    event = bounces.apply(
        db.session,
        BounceReport(kind="hard", recipient="Stranger@Example.org", token=None, source="dsn"),
    )
    assert event.subscriber_id is None
    assert event.email_hash == address_hash("stranger@example.org")
    assert is_suppressed(db.session, "stranger@example.org")


def test_an_outbox_token_names_the_transactional_message_s_recipient(ctx, db, sent):
    from flask import current_app

    [row] = sent()
    reader = reader_of(db, row)
    queue_email("test_message", reader.email, emails.test_message(reader.email))
    outbox_row = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
    key = current_app.config["ENGAGE"].hash_key
    token = verp.parse(verp.address("bounces@engage.test", key, verp.OUTBOX, outbox_row.id), key)
    event = bounces.apply(
        db.session,
        BounceReport(kind="hard", recipient="someone-else@example.org", token=token, source="dsn"),
    )
    assert event.outbox_id == outbox_row.id
    assert event.subscriber_id == reader.id
    assert reader.status == "unsubscribed"
    assert not is_suppressed(db.session, "someone-else@example.org")


def test_the_smtp_session_s_refusal_uses_the_same_rule(db, sent):
    [row] = sent()
    reader = reader_of(db, row)
    report = bounces.smtp_refusal(reader.email, 550, "5.7.1 Message rejected as spam")
    assert report.kind == "hard" and report.status == "5.7.1" and report.source == "smtp"
    assert bounces.apply(db.session, report).kind == "soft"
    assert reader.status == "confirmed"
    report = bounces.smtp_refusal(reader.email, 550, "No such user here")
    assert report.status == "5.0.0"
    assert bounces.apply(db.session, report).kind == "hard"
    assert reader.status == "unsubscribed"
