"""A send's report: what became of each message, for the editor, as a page, CSV and JSON.

Counts come from the delivery rows (one per reader of the send) and the bounce events that
name them (engage/sending/bounces.py), including reports that arrived days later. Addresses
are masked everywhere; server replies are stored redacted.

Unsubscribes are attributed from what delivery rows already say, with no per-reader tracking:
a reader counts for this send when its message to them was accepted, they unsubscribed within
`UNSUBSCRIBE_WINDOW` after that, and no later newsletter reached them before they left. A
reader unsubscribed by a bounce or complaint about this send counts there instead.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from engage.core.spreadsheet import safe_cell
from engage.mail.message import mask_address, redact_addresses
from engage.sending.models import BounceEvent, Delivery
from engage.sending.pipeline import delivery_counts
from engage.subscriptions.models import Subscriber
from engage.types import utcnow

UNSUBSCRIBE_WINDOW = timedelta(days=7)
PROBLEM_PAGE_SIZE = 50
CSV_COLUMNS = ("address", "outcome", "bounce", "attempts", "server_reply", "at")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).


def _event_count(newsletter_id: int, kind: str):
    """Messages of this send with a bounce or complaint of `kind`, whenever it came."""
    reported = exists().where(BounceEvent.delivery_id == Delivery.id, BounceEvent.kind == kind)
    return select(func.count()).where(
        Delivery.newsletter_id == newsletter_id, or_(Delivery.bounce == kind, reported)
    )


def unsubscribes(session: Session, newsletter_id: int) -> int:
    """Readers who left within the window after this send reached them (see the module)."""
    later = aliased(Delivery)
    reached_later = exists().where(
        later.subscriber_id == Delivery.subscriber_id,
        later.newsletter_id.is_not(None),
        later.newsletter_id != newsletter_id,
        later.status == "sent",
        later.sent_at > Delivery.sent_at,
        later.sent_at <= Subscriber.unsubscribed_at,
    )
    # Only readers who left after this send reached them are read; the window is applied
    # here because date arithmetic differs between SQLite and PostgreSQL.
    rows = session.execute(
        select(Delivery.sent_at, Subscriber.unsubscribed_at)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(
            Delivery.newsletter_id == newsletter_id,
            Delivery.status == "sent",
            Delivery.bounce.is_(None),
            Subscriber.status == "unsubscribed",
            Subscriber.unsubscribed_at >= Delivery.sent_at,
            ~reached_later,
        )
    ).all()
    return sum(1 for sent_at, left_at in rows if left_at - sent_at <= UNSUBSCRIBE_WINDOW)


def counts(session: Session, newsletter_id: int, now: datetime | None = None) -> dict[str, int]:
    """total, delivered, deferred (waiting to be tried again), pending, failed, skipped,
    hard and soft bounces, complaints and unsubscribes (see the module for the last)."""
    rows = delivery_counts(session, Delivery.newsletter_id == newsletter_id, now or utcnow())
    return {
        "total": rows["total"],
        "delivered": rows["sent"],
        "deferred": rows["deferred"],
        "pending": rows["pending"],
        "failed": rows["failed"],
        "skipped": rows["skipped"],
        "hard_bounces": session.scalar(_event_count(newsletter_id, "hard")) or 0,
        "soft_bounces": session.scalar(_event_count(newsletter_id, "soft")) or 0,
        "complaints": session.scalar(_event_count(newsletter_id, "complaint")) or 0,
        "unsubscribes": unsubscribes(session, newsletter_id),
    }


OUTCOMES = {
    "sent": "Delivered",
    "failed": "Failed",
    "pending": "Waiting",
    "claimed": "Sending",
    "skipped": "Skipped",
}


def problems_query(newsletter_id: int):
    """The send's rows worth a look, oldest first: failed, deferred at least once, or with a
    bounce or complaint reported. Each row: delivery, email, latest report's words and time."""
    latest = (
        select(BounceEvent.diagnostic, BounceEvent.occurred_at)
        .where(BounceEvent.delivery_id == Delivery.id)
        .order_by(BounceEvent.occurred_at.desc(), BounceEvent.id.desc())
        .limit(1)
        .correlate(Delivery)
    )
    reported = exists().where(BounceEvent.delivery_id == Delivery.id)
    return (
        select(
            Delivery,
            Subscriber.email,
            latest.with_only_columns(BounceEvent.diagnostic).scalar_subquery().label("report"),
            latest.with_only_columns(BounceEvent.occurred_at).scalar_subquery().label("reported"),
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(
            Delivery.newsletter_id == newsletter_id,
            or_(
                Delivery.status == "failed",
                Delivery.first_deferred_at.is_not(None),
                Delivery.bounce.is_not(None),
                reported,
            ),
        )
        .order_by(Delivery.id)
    )


def problem(row, now: datetime | None = None) -> dict:
    """One problem row as staff may see it: the address masked, the server's words redacted."""
    delivery, email, report, reported = row
    now = now or utcnow()
    outcome = OUTCOMES.get(delivery.status, delivery.status)
    if delivery.status == "pending" and delivery.next_attempt_at and delivery.next_attempt_at > now:
        outcome = "Deferred"
    return {
        "address": mask_address(email or ""),
        "outcome": outcome,
        "bounce": delivery.bounce or "",
        "attempts": delivery.attempts,
        # Stored redacted; redacting again is harmless and guards rows written before that.
        "server_reply": redact_addresses(report or delivery.smtp_reply or ""),
        "at": reported or delivery.sent_at or delivery.first_deferred_at or delivery.created_at,
    }


def problems_page(session: Session, newsletter_id: int, page: int, per_page: int):
    """(rows, total) for one page of problems, pages counted from 1."""
    query = problems_query(newsletter_id)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return [problem(row) for row in rows], int(total or 0)


def problems_csv(session: Session, newsletter_id: int) -> str:
    """Every problem row as CSV text, with a header line (see `safe_cell`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in session.execute(problems_query(newsletter_id).execution_options(yield_per=500)):
        item = problem(row)
        writer.writerow([safe_cell(item[column]) for column in CSV_COLUMNS])
    return out.getvalue()
