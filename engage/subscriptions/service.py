"""Subscription rules: sign-up with double opt-in, confirmation, unsubscribe, preferences,
export and erasure. Plain arguments in; functions flush, the caller commits.

Every sign-up answers the same way whatever the address's state, so nobody can learn from our
answers who is subscribed; what differs is only what we email to the address itself.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engage.addresses import InvalidAddress, normalise_email
from engage.subscriptions.consent import SIGN_UP, SUBSCRIBE_AGAIN, text_version
from engage.subscriptions.models import (
    DIGEST_FREQUENCIES,
    Consent,
    Subscriber,
    Suppression,
    Topic,
)
from engage.types import opaque_id, utcnow

# The sign-up form's words, exactly as the form shows them (engage.subscriptions.consent).
CONSENT_TEXT = SIGN_UP.text
CONFIRMATION_COOLDOWN = timedelta(minutes=10)
CONFIRMATIONS_PER_DAY = 3
UNCONFIRMED_LIFETIME = timedelta(days=7)


class InvalidChoice(ValueError):
    """A topic or digest choice that does not exist. `field` names the form field."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def printable(text: str, limit: int) -> str:
    """`text` without control characters (NUL, CR, LF…), cut to `limit` characters."""
    return "".join(ch for ch in (text or "") if ch.isprintable())[:limit]


def address_hash(address: str) -> str:
    """Keyed hash of a normalised address: lets us recognise it without keeping it."""
    key = current_app.config["ENGAGE"].hash_key.encode()
    return hmac.new(key, b"address:" + address.encode(), hashlib.sha256).hexdigest()


def is_suppressed(session: Session, address: str) -> bool:
    """Whether the address (in any spelling) is on the suppression list."""
    try:
        address = normalise_email(address)
    except InvalidAddress:
        return False
    found = session.scalar(
        select(Suppression.id).where(Suppression.email_hash == address_hash(address))
    )
    return found is not None


def topic_catalogue(session: Session) -> dict[str, Topic]:
    """Every topic by slug, for callers resolving many choices at once (the bulk import)."""
    return {topic.slug: topic for topic in session.scalars(select(Topic))}


def resolve_topics(
    session: Session, slugs: list[str] | None, catalogue: dict[str, Topic] | None = None
) -> list[Topic]:
    """Topics by slug; none given means the default topics. Unknown slugs are refused.

    With `catalogue` (from `topic_catalogue`) no query runs.
    """
    if catalogue is not None:
        if not slugs:
            return [topic for topic in catalogue.values() if topic.is_default]
        wanted = sorted(set(slugs))
        found = [catalogue[slug] for slug in wanted if slug in catalogue]
    elif not slugs:
        return list(session.scalars(select(Topic).where(Topic.is_default)).all())
    else:
        wanted = sorted(set(slugs))
        found = list(session.scalars(select(Topic).where(Topic.slug.in_(wanted))).all())
    missing = set(wanted) - {t.slug for t in found}
    if missing:
        raise InvalidChoice(
            "Please choose from the topics listed; one of them no longer exists.", "topics"
        )
    return found


def check_digest(value: str | None) -> str:
    value = (value or "off").strip()
    if value not in DIGEST_FREQUENCIES:
        raise InvalidChoice(
            f"The digest must be one of: {', '.join(DIGEST_FREQUENCIES)}.", "digest"
        )
    return value


def sign_up_problems(
    session: Session, email: str, topics: list[str] | None, digest: str | None
) -> dict[str, str]:
    """Every reason a sign-up cannot go ahead, {field: message} in the form's order (email,
    topics, digest); empty when `sign_up` will take it. Writes nothing."""
    problems = {}
    try:
        normalise_email(email)
    except InvalidAddress as exc:
        problems["email"] = str(exc)
    for check in (lambda: resolve_topics(session, topics), lambda: check_digest(digest)):
        try:
            check()
        except InvalidChoice as exc:
            problems[exc.field] = str(exc)
    return problems


@dataclass
class SignUp:
    """What a sign-up did. The reader sees the same page whatever it holds."""

    subscriber: Subscriber
    consent: Consent | None
    email_to_send: str | None  # "confirm", "already_subscribed" or None (rate-limited)


def _may_send_confirmation(subscriber: Subscriber, now: datetime) -> bool:
    last = subscriber.last_confirmation_sent_at
    if last is None:
        return True
    if now - last < CONFIRMATION_COOLDOWN:
        return False
    if last.date() != now.date():
        subscriber.confirmations_sent_today = 0
    return subscriber.confirmations_sent_today < CONFIRMATIONS_PER_DAY


def _note_confirmation_sent(subscriber: Subscriber, consent: Consent | None, now: datetime) -> None:
    # Counts toward the cooldown and the daily limit from the moment it is queued; the consent
    # record says "sent" only once a server accepted it (`confirmation_accepted`).
    last = subscriber.last_confirmation_sent_at
    if last is None or last.date() != now.date():
        subscriber.confirmations_sent_today = 0
    subscriber.confirmations_sent_today += 1
    subscriber.last_confirmation_sent_at = now


def confirmation_accepted(session: Session, address: str, now: datetime | None = None) -> None:
    """A mail server accepted the confirmation sent to `address`: the consent records waiting
    for it say when."""
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        return
    for consent in subscriber.consents:
        if consent.confirmation_sent_at is None and consent.confirmed_at is None:
            consent.confirmation_sent_at = now or utcnow()


def confirmation_failed(session: Session, address: str) -> None:
    """The confirmation to `address` could not be sent for hours: the next sign-up with it
    gets a fresh one at once, whatever the cooldown said."""
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is not None and subscriber.status != "confirmed":
        subscriber.last_confirmation_sent_at = None
        subscriber.confirmations_sent_today = max(0, subscriber.confirmations_sent_today - 1)


def sign_up(
    session: Session,
    email: str,
    *,
    topics: list[str] | None,
    digest: str | None,
    source: str,
    consent_text: str = CONSENT_TEXT,
    consent_version: str | None = None,
    now: datetime | None = None,
) -> SignUp:
    """Record a sign-up and decide which email (if any) the address gets.

    Raises InvalidAddress or InvalidChoice before writing anything. A confirmed subscriber's
    choices are not changed by a form anyone could fill in: they get a link to their
    preferences instead.
    """
    now = now or utcnow()
    address = normalise_email(email)
    chosen_topics = resolve_topics(session, topics)
    chosen_digest = check_digest(digest)
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == address))
    outcome = record_sign_up(
        session,
        subscriber,
        address,
        chosen_topics,
        chosen_digest,
        source=source,
        consent_text=consent_text,
        consent_version=consent_version,
        now=now,
    )
    session.flush()
    return outcome


def record_sign_up(
    session: Session,
    subscriber: Subscriber | None,
    address: str,
    topics: list[Topic],
    digest: str,
    *,
    source: str,
    consent_text: str = CONSENT_TEXT,
    consent_version: str | None = None,
    now: datetime,
) -> SignUp:
    """`sign_up` for an address already normalised (`subscriber` is its row, or None) and
    choices already checked: changes objects only, no query and no flush, so the bulk import
    can record many and flush once. A persistent `subscriber` needs its consents loaded.
    Without `consent_version` the version names the exact text (`text_version`)."""
    version = consent_version or text_version(consent_text)
    if subscriber is not None and subscriber.status == "confirmed":
        if not _may_send_confirmation(subscriber, now):
            return SignUp(subscriber, None, None)
        _note_confirmation_sent(subscriber, None, now)
        return SignUp(subscriber, None, "already_subscribed")

    if subscriber is None:
        subscriber = Subscriber(
            email=address,
            email_hash=address_hash(address),
            status="pending",
            unsubscribe_id=opaque_id(),
            created_at=now,
        )
        session.add(subscriber)
    # Pending or unsubscribed: the new choices wait for confirmation like a new sign-up.
    subscriber.topics = topics
    subscriber.digest = digest
    consent = Consent(
        subscriber=subscriber,
        source=printable(source, 300),
        text=consent_text,
        version=version,
        consented_at=now,
    )
    session.add(consent)
    send = _may_send_confirmation(subscriber, now)
    if send:
        _note_confirmation_sent(subscriber, consent, now)
    return SignUp(subscriber, consent, "confirm" if send else None)


def subscribe_again(
    session: Session, subscriber: Subscriber, *, source: str, now: datetime | None = None
) -> SignUp:
    """An unsubscribed reader asks, from their preference page, to receive again what they
    had chosen (the default topics if nothing is left). Goes through double opt-in like any
    sign-up: nothing is sent but the confirmation until they confirm. Flushes."""
    now = now or utcnow()
    topics = list(subscriber.topics) or resolve_topics(session, None)
    outcome = record_sign_up(
        session,
        subscriber,
        subscriber.email,
        topics,
        subscriber.digest,
        source=source,
        consent_text=SUBSCRIBE_AGAIN.text,
        now=now,
    )
    session.flush()
    return outcome


class ConfirmError(ValueError):
    """The confirmation cannot go ahead; the message is fit to show the reader."""


def confirm(session: Session, subscriber_id: int, consent_id: int, now: datetime | None = None):
    """Confirm a sign-up. Returns (subscriber, newly_confirmed). Raises ConfirmError."""
    now = now or utcnow()
    subscriber = session.get(Subscriber, subscriber_id)
    consent = session.get(Consent, consent_id)
    if subscriber is None or consent is None or consent.subscriber_id != subscriber.id:
        raise ConfirmError("This confirmation link is no longer valid.")
    if consent.confirmed_at is not None and subscriber.status == "confirmed":
        return subscriber, False
    if consent.withdrawn_at is not None:
        raise ConfirmError("This sign-up was withdrawn. You can sign up again at any time.")
    newly = subscriber.status != "confirmed"
    mark_confirmed(subscriber, consent, now)
    # New consent lifts an earlier erasure or bounce suppression.
    session.execute(delete(Suppression).where(Suppression.email_hash == subscriber.email_hash))
    session.flush()
    return subscriber, newly


def mark_confirmed(subscriber: Subscriber, consent: Consent, now: datetime) -> None:
    """The object changes of a confirmation (`confirm` checks the link and lifts the
    suppression; the bulk import lifts many at once)."""
    subscriber.status = "confirmed"
    subscriber.confirmed_at = now
    subscriber.unsubscribed_at = None
    subscriber.hard_bounces = 0
    consent.confirmed_at = now


def find_by_unsubscribe_id(session: Session, unsubscribe_id: str) -> Subscriber | None:
    if not unsubscribe_id or len(unsubscribe_id) > 64:
        return None
    return session.scalar(select(Subscriber).where(Subscriber.unsubscribe_id == unsubscribe_id))


def unsubscribe(session: Session, subscriber: Subscriber, now: datetime | None = None) -> bool:
    """Unsubscribe from everything at once; True if anything changed. Consent is withdrawn."""
    now = now or utcnow()
    if subscriber.status == "unsubscribed":
        return False
    subscriber.status = "unsubscribed"
    subscriber.unsubscribed_at = now
    for consent in subscriber.consents:
        if consent.withdrawn_at is None:
            consent.withdrawn_at = now
    session.flush()
    return True


def revoke_links(session: Session, subscriber: Subscriber) -> None:
    """Void every link ever sent to the subscriber (preferences, confirmation and unsubscribe
    links: their key derives from the unsubscribe id, which is replaced). Flushes."""
    subscriber.unsubscribe_id = opaque_id()
    session.flush()


def stop_digest(session: Session, subscriber: Subscriber, now: datetime | None = None) -> bool:
    """The digest's one-click unsubscribe: digest off, newsletters kept. With no topic left
    there is nothing left to send: unsubscribe from everything. True if anything changed."""
    if subscriber.status == "unsubscribed":
        return False
    if not subscriber.topics:
        subscriber.digest = "off"
        return unsubscribe(session, subscriber, now)
    changed = subscriber.digest != "off"
    subscriber.digest = "off"
    session.flush()
    return changed


MAX_INTERESTS = 30


def check_interests(purposes: list[str] | None, regions: list[str] | None) -> dict:
    """Digest interests as stored: {"purposes": [...], "regions": [...]}, each sorted and
    without duplicates; empty lists mean everything. Unknown purposes raise InvalidChoice."""
    from engage.community.purposes import LABELS

    chosen = sorted({p.strip() for p in purposes or [] if p and p.strip()})
    unknown = [p for p in chosen if p not in LABELS]
    if unknown:
        raise InvalidChoice(f"There is no such condition: {', '.join(unknown)}.", "purposes")
    places = sorted({printable(r.strip(), 120) for r in regions or [] if r and r.strip()})
    if len(chosen) > MAX_INTERESTS or len(places) > MAX_INTERESTS:
        raise InvalidChoice(f"Please choose at most {MAX_INTERESTS}.", "purposes")
    return {"purposes": chosen, "regions": places}


def update_preferences(
    session: Session,
    subscriber: Subscriber,
    topics: list[str],
    digest: str | None,
    interests: dict | None = None,
) -> None:
    """Change topics and digest (and, when given, the digest's interests: see
    check_interests). No topics and no digest means nothing left: unsubscribe."""
    chosen = resolve_topics(session, topics) if topics else []
    chosen_digest = check_digest(digest)
    if interests is not None:
        subscriber.interests = check_interests(interests.get("purposes"), interests.get("regions"))
    if not chosen and chosen_digest == "off":
        unsubscribe(session, subscriber)
        subscriber.topics = []
        subscriber.digest = "off"
        session.flush()
        return
    subscriber.topics = chosen
    subscriber.digest = chosen_digest
    session.flush()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export(session: Session, subscriber: Subscriber) -> dict:
    """Everything we hold about a subscriber, as JSON-ready data: choices, consent records,
    deliveries, and every reply written from the address (with its notification settings)."""
    from engage.comments.service import export_author  # both build on this module
    from engage.community.service import export_organiser
    from engage.newsletters.models import Newsletter
    from engage.sending.bounces import history
    from engage.sending.models import Delivery

    deliveries = session.execute(
        select(Delivery, Newsletter.subject)
        .outerjoin(Newsletter, Delivery.newsletter_id == Newsletter.id)
        .where(Delivery.subscriber_id == subscriber.id)
        .order_by(Delivery.id)
    ).all()
    return {
        "subscriber": {
            "email": subscriber.email,
            "status": subscriber.status,
            "topics": sorted(t.slug for t in subscriber.topics),
            "digest": subscriber.digest,
            "timezone": subscriber.timezone,
            "interests": subscriber.interests or {},
            "created_at": _iso(subscriber.created_at),
            "confirmed_at": _iso(subscriber.confirmed_at),
            "unsubscribed_at": _iso(subscriber.unsubscribed_at),
        },
        "consents": [
            {
                "source": c.source,
                "text": c.text,
                "version": c.version,
                "consented_at": _iso(c.consented_at),
                "confirmation_sent_at": _iso(c.confirmation_sent_at),
                "confirmed_at": _iso(c.confirmed_at),
                "withdrawn_at": _iso(c.withdrawn_at),
            }
            for c in subscriber.consents
        ],
        "deliveries": [
            {
                "newsletter": subject,
                "digest_edition_id": d.digest_edition_id,
                "status": d.status,
                "sent_at": _iso(d.sent_at),
            }
            for d, subject in deliveries
        ],
        # Bounces and complaints about mail to them: when, what, and how we learnt it.
        "bounces": [
            {**event, "occurred_at": _iso(event["occurred_at"])}
            for event in history(session, subscriber.id, subscriber.email_hash)
        ],
        **export_author(session, subscriber.email_hash),
        "listings": export_organiser(session, subscriber.email) if subscriber.email else [],
    }


def suppress(session: Session, email_hash: str, reason: str) -> None:
    if session.scalar(select(Suppression.id).where(Suppression.email_hash == email_hash)) is None:
        session.add(Suppression(email_hash=email_hash, reason=reason))
        session.flush()


def erase(session: Session, subscriber: Subscriber) -> None:
    """Remove the subscriber and everything personal, in every area; keep only a keyed hash
    on the suppression list so nothing is sent to the address again without new consent.

    Their replies stay in the threads as "Former reader", without the address (see
    engage.comments.service.anonymise_author); support groups and events they submitted lose
    the address too (engage.community.service.forget_organiser); mail waiting for them in the
    outbox goes. Flushes; the caller commits.
    """
    from engage.comments.service import anonymise_author  # both build on this module
    from engage.community.service import forget_organiser
    from engage.sending import bounces, outbox

    suppress(session, subscriber.email_hash, "erased")
    bounces.forget(session, subscriber.id, subscriber.email_hash)
    anonymise_author(session, subscriber.email_hash)
    if subscriber.email:
        forget_organiser(session, subscriber.email)
        outbox.forget_recipient(session, subscriber.email)  # mail queued for them: never sent
    session.delete(subscriber)
    session.flush()


def purge_unconfirmed(session: Session, now: datetime | None = None, batch: int = 500) -> int:
    """Delete sign-ups never confirmed within 7 days. Returns how many were removed."""
    cutoff = (now or utcnow()) - UNCONFIRMED_LIFETIME
    ids = session.scalars(
        select(Subscriber.id)
        .where(
            Subscriber.status == "pending",
            Subscriber.confirmed_at.is_(None),
            Subscriber.created_at < cutoff,
        )
        .limit(batch)
    ).all()
    if ids:
        session.execute(delete(Subscriber).where(Subscriber.id.in_(ids)))
        session.flush()
    return len(ids)
