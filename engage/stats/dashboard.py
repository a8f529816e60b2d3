"""The figures on the staff dashboard and in `GET /api/v1/stats`, read from the aggregate.

Subscriber totals and daily series come from `daily_stats` (today's row is at most one beat
old; without one, today is computed without being stored). The waiting work and the latest
sends are small indexed counts. Nothing here is about one reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from engage.comments import service as comment_service
from engage.community.models import Event, SupportGroup
from engage.newsletters.models import Newsletter
from engage.sending import outbox
from engage.sending.models import Delivery
from engage.stats import rollup
from engage.stats.models import DailyStat
from engage.subscriptions.models import Subscriber
from engage.types import utcnow

SERIES_DAYS = 90
RECENT_DAYS = 30
LATEST_SENDS = 6
UNSUBSCRIBE_WINDOW = timedelta(days=7)
FLOWS = ("signups", "confirmations", "unsubscribes", "bounces_hard", "bounces_soft", "complaints")
TOTALS = ("confirmed_total", "pending_total", "unsubscribed_total")


@dataclass
class Day:
    """One day of the series. `net_growth` is the change in confirmed subscribers that day."""

    day: date
    signups: int = 0
    confirmations: int = 0
    unsubscribes: int = 0
    bounces_hard: int = 0
    bounces_soft: int = 0
    complaints: int = 0
    confirmed_total: int = 0
    pending_total: int = 0
    unsubscribed_total: int = 0
    net_growth: int = 0
    # False for a day before the first the rollup wrote (`flask stats rebuild` fills them).
    known: bool = True

    @property
    def bounces(self) -> int:
        return self.bounces_hard + self.bounces_soft


@dataclass
class SendOutcome:
    """What became of one send's messages; `unsubscribed` counts its recipients who left
    within seven days of it starting (through its delivery rows)."""

    newsletter_id: int
    subject: str
    started_at: datetime
    status: str
    recipients: int
    delivered: int
    deferred: int
    bounced: int
    complaints: int
    unsubscribed: int


@dataclass
class Stats:
    as_of: datetime
    confirmed: int
    pending: int
    unsubscribed: int
    series: list[Day]
    recent: dict[str, int] = field(default_factory=dict)
    sends: list[SendOutcome] = field(default_factory=list)


def series(session: Session, now: datetime, days: int = SERIES_DAYS) -> tuple[list[Day], datetime]:
    """The last `days` days, oldest first, and when today's figures were computed.

    A day the rollup has not written while beat was down shows no activity and carries the
    previous day's totals; days before the first it wrote are `known=False`, all zero.
    """
    today = now.astimezone(UTC).date()
    first = today - timedelta(days)  # one day before the window: the base of the first growth
    stored = {
        row.day: row
        for row in session.scalars(
            select(DailyStat).where(DailyStat.day >= first, DailyStat.day <= today)
        )
    }
    as_of = stored[today].computed_at if today in stored else now
    if today not in stored:
        # Nothing written yet today (beat has not run since midnight): compute it, store
        # nothing. This reads subscribers by status once; beat's row spares the next request.
        (row,) = rollup.compute_days(session, [today], now)
        stored[today] = DailyStat(**row)
    out: list[Day] = []
    previous: Day | None = None
    for n in range(days + 1):
        day = first + timedelta(n)
        row = stored.get(day)
        if row is not None:
            current = Day(day, **{name: getattr(row, name) for name in FLOWS + TOTALS})
            # Growth needs the day before: before the first stored day nothing is known, and
            # the whole audience arriving on that day would be a spike that never happened.
            if previous is not None and previous.known:
                current.net_growth = current.confirmed_total - previous.confirmed_total
        elif previous is not None and previous.known:
            current = Day(day, **{name: getattr(previous, name) for name in TOTALS})
        else:
            current = Day(day, known=False)
        out.append(current)
        previous = current
    return out[1:], as_of


def latest_sends(session: Session, limit: int = LATEST_SENDS) -> list[SendOutcome]:
    """The newsletters started most recently, with their delivery rows counted by outcome."""
    newsletters = session.scalars(
        select(Newsletter)
        .where(Newsletter.started_at.is_not(None))
        .order_by(Newsletter.started_at.desc(), Newsletter.id.desc())
        .limit(limit)
    ).all()
    outcomes = []
    for newsletter in newsletters:
        window_end = newsletter.started_at + UNSUBSCRIBE_WINDOW
        d, s = Delivery, Subscriber
        left = and_(
            s.status == "unsubscribed",
            s.unsubscribed_at >= newsletter.started_at,
            s.unsubscribed_at < window_end,
        )
        row = session.execute(
            select(
                func.count(),
                func.count(case((and_(d.status == "sent", d.bounce.is_(None)), 1))),
                func.count(case((and_(d.status.in_(("pending", "claimed")), d.attempts > 0), 1))),
                func.count(case((d.bounce.in_(("hard", "soft")), 1))),
                func.count(case((d.bounce == "complaint", 1))),
                func.count(case((and_(d.sent_at.is_not(None), left), 1))),
            )
            .select_from(d)
            .join(s, s.id == d.subscriber_id)
            .where(d.newsletter_id == newsletter.id)
        ).one()
        outcomes.append(
            SendOutcome(
                newsletter_id=newsletter.id,
                subject=newsletter.subject,
                started_at=newsletter.started_at,
                status=newsletter.status,
                recipients=row[0],
                delivered=row[1],
                deferred=row[2],
                bounced=row[3],
                complaints=row[4],
                unsubscribed=row[5],
            )
        )
    return outcomes


def stats(session: Session, now: datetime | None = None) -> Stats:
    """Everything an editor sees about the audience: totals, the series, the latest sends."""
    now = now or utcnow()
    days, as_of = series(session, now)
    today = days[-1]
    recent = days[-RECENT_DAYS:]
    return Stats(
        as_of=as_of,
        confirmed=today.confirmed_total,
        pending=today.pending_total,
        unsubscribed=today.unsubscribed_total,
        series=days,
        recent={
            "signups": sum(d.signups for d in recent),
            "confirmations": sum(d.confirmations for d in recent),
            "unsubscribes": sum(d.unsubscribes for d in recent),
            "bounces_hard": sum(d.bounces_hard for d in recent),
            "bounces_soft": sum(d.bounces_soft for d in recent),
            "complaints": sum(d.complaints for d in recent),
        },
        sends=latest_sends(session),
    )


@dataclass
class Waiting:
    """Work that waits for a person: replies by queue, listings to review, failed mail."""

    replies_pending: int = 0
    replies_needs_care: int = 0
    replies_reported: int = 0
    listings_to_review: int = 0
    listings_to_check: int = 0
    failed_mail: int = 0

    @property
    def replies(self) -> int:
        return self.replies_pending + self.replies_needs_care + self.replies_reported


def waiting(session: Session, *, moderator: bool, editor: bool) -> Waiting:
    """Counts of what waits, for the queues this person may work."""
    found = Waiting()
    if moderator:
        counts = comment_service.queue_counts(session)  # the numbers on the queue's tabs
        found.replies_pending = counts["pending"]
        found.replies_needs_care = counts["needs_care"]
        found.replies_reported = counts["reported"]
    if editor:
        for model in (SupportGroup, Event):
            # As the review screen counts them: unconfirmed organisers' submissions wait for
            # the organiser, not for an editor.
            found.listings_to_review += session.scalar(
                select(func.count()).where(
                    model.status == "pending",
                    model.organiser_email.is_(None) | model.organiser_confirmed_at.is_not(None),
                )
            )
            found.listings_to_check += session.scalar(
                select(func.count()).where(model.status == "approved", model.needs_check.is_(True))
            )
        found.failed_mail = outbox.counts(session)["failed"]
    return found
