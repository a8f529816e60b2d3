"""The subscription rules, called as the views and tasks call them."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from engage.subscriptions import service
from engage.subscriptions.models import Consent, Subscriber, Suppression
from engage.types import utcnow


def sign_up(db, email="reader@example.org", now=None, **kw):
    kw.setdefault("topics", None)
    kw.setdefault("digest", "off")
    kw.setdefault("source", "form:/test")
    return service.sign_up(db.session, email, now=now, **kw)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("  Reader@Example.ORG ", "reader@example.org"),
        ("user+news@example.org", "user+news@example.org"),
        ("josé@exämple.org", "josé@exämple.org"),
        ("reader@xn--exmple-cua.org", "reader@exämple.org"),
    ],
)
def test_addresses_are_normalised(ctx, raw, normalised):
    assert service.normalise_email(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "not-an-address",
        "a@b",
        "reader@example.org\r\nBcc: victim@example.org",
        "reader@example.org\nX: y",
        "a" * 250 + "@example.org",
        "two@@example.org",
        "<script>@example.org",
    ],
)
def test_bad_addresses_are_refused_with_a_readable_message(ctx, raw):
    with pytest.raises(service.InvalidAddress) as err:
        service.normalise_email(raw)
    assert "\n" not in str(err.value)


def test_unknown_topics_and_digests_are_refused_before_anything_is_written(ctx, db, topics):
    with pytest.raises(service.InvalidChoice) as err:
        sign_up(db, topics=["nope"])
    assert err.value.field == "topics"
    with pytest.raises(service.InvalidChoice) as err:
        sign_up(db, digest="hourly")
    assert err.value.field == "digest"
    assert db.session.scalar(select(Subscriber)) is None


def test_no_topics_means_the_default_topic(ctx, db, topics):
    outcome = sign_up(db)
    assert [t.slug for t in outcome.subscriber.topics] == ["newsletter"]


def test_confirmation_emails_are_limited_per_address(ctx, db, topics):
    start = utcnow().replace(hour=8, minute=0)
    assert sign_up(db, now=start).email_to_send == "confirm"
    assert sign_up(db, now=start + timedelta(minutes=5)).email_to_send is None
    assert sign_up(db, now=start + timedelta(minutes=11)).email_to_send == "confirm"
    assert sign_up(db, now=start + timedelta(minutes=22)).email_to_send == "confirm"
    assert sign_up(db, now=start + timedelta(minutes=40)).email_to_send is None  # 3 a day
    assert sign_up(db, now=start + timedelta(days=1)).email_to_send == "confirm"
    # Every attempt is on record as consent evidence, sent or not.
    assert db.session.query(Consent).count() == 6


def test_erasure_keeps_only_a_keyed_hash_and_resubscribing_still_works(ctx, db, topics):
    outcome = sign_up(db)
    service.confirm(db.session, outcome.subscriber.id, outcome.consent.id)
    service.erase(db.session, outcome.subscriber)
    assert db.session.scalar(select(Subscriber)) is None
    assert db.session.scalar(select(Consent)) is None
    [suppression] = db.session.scalars(select(Suppression)).all()
    assert "reader" not in suppression.email_hash and len(suppression.email_hash) == 64
    assert service.is_suppressed(db.session, "Reader@example.org")

    again = sign_up(db, now=utcnow() + timedelta(minutes=11))
    assert again.subscriber.status == "pending" and again.email_to_send == "confirm"
    service.confirm(db.session, again.subscriber.id, again.consent.id)
    assert not service.is_suppressed(db.session, "reader@example.org")


def test_address_hashes_are_keyed(make_app):
    one = make_app(HASH_KEY="k" * 40)
    two = make_app(HASH_KEY="z" * 40)
    with one.app_context():
        first = service.address_hash("reader@example.org")
    with two.app_context():
        second = service.address_hash("reader@example.org")
    assert first != second


def test_unsubscribing_withdraws_consent(ctx, db, topics):
    outcome = sign_up(db)
    service.confirm(db.session, outcome.subscriber.id, outcome.consent.id)
    assert service.unsubscribe(db.session, outcome.subscriber) is True
    assert outcome.subscriber.status == "unsubscribed"
    assert outcome.consent.withdrawn_at is not None
    assert service.unsubscribe(db.session, outcome.subscriber) is False  # idempotent


def test_a_withdrawn_sign_up_cannot_be_confirmed_later(ctx, db, topics):
    outcome = sign_up(db)
    service.unsubscribe(db.session, outcome.subscriber)
    with pytest.raises(service.ConfirmError):
        service.confirm(db.session, outcome.subscriber.id, outcome.consent.id)


def test_unconfirmed_sign_ups_are_purged_after_seven_days(ctx, db, topics):
    old = sign_up(db, "old@example.org", now=utcnow() - timedelta(days=8)).subscriber
    recent = sign_up(db, "recent@example.org", now=utcnow() - timedelta(days=6)).subscriber
    kept = sign_up(db, "kept@example.org", now=utcnow() - timedelta(days=30))
    service.confirm(db.session, kept.subscriber.id, kept.consent.id)
    old_id = old.id
    assert service.purge_unconfirmed(db.session) == 1
    db.session.expire_all()
    assert db.session.get(Subscriber, old_id) is None
    assert db.session.get(Subscriber, recent.id) is not None
    assert db.session.get(Subscriber, kept.subscriber.id).status == "confirmed"
    assert service.purge_unconfirmed(db.session) == 0  # a rerun changes nothing


def test_housekeeping_task_purges(app, ctx, db, topics):
    import workers.tasks

    sign_up(db, "old@example.org", now=utcnow() - timedelta(days=8))
    db.session.commit()
    assert workers.tasks.subscriptions_housekeeping.apply().get() == 1
    assert db.session.scalar(select(Subscriber)) is None


def test_consent_source_keeps_no_control_characters(ctx, db, topics):
    outcome = sign_up(db, source="form:/a\x00b\r\nX-Injected: 1")
    db.session.flush()
    assert outcome.consent.source == "form:/abX-Injected: 1"
