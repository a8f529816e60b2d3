"""Keeping `daily_stats`: today and yesterday on beat, the whole history on request.

Each subscriber row is read as a short history from its timestamps: pending from `created_at`,
confirmed from `confirmed_at`, unsubscribed from `unsubscribed_at` (a reader who unsubscribed
before confirming goes straight from pending to unsubscribed). The totals at the end of a day
are today's counts by status minus what changed after that day: only rows with a timestamp
after it are read, through the indexes on the three columns, so neither the beat task nor the
dashboard reads every subscriber.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from engage.sending.models import BounceEvent
from engage.stats.models import DailyStat
from engage.subscriptions.models import Subscriber
from engage.types import utcnow

STATUSES = ("pending", "confirmed", "unsubscribed")


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass
class _Window:
    """What happened in [start, end): the day's flows and the net change of each status."""

    signups: int = 0
    confirmations: int = 0
    unsubscribes: int = 0
    pending: int = 0
    confirmed: int = 0
    unsubscribed: int = 0


def _in(column, start: datetime, end: datetime):
    return and_(column >= start, column < end)


def _window_statement(start: datetime, end: datetime):
    """One query over the rows with any timestamp in the window: on PostgreSQL a BitmapOr of
    ix_subscribers_created_at, _confirmed_at and _unsubscribed_at; SQLite's OR optimisation
    uses the same three indexes."""
    s = Subscriber
    confirmed_before_leaving = and_(
        s.confirmed_at.is_not(None),
        or_(s.unsubscribed_at.is_(None), s.confirmed_at < s.unsubscribed_at),
    )
    # A confirmation moves a reader from pending to confirmed, unless they had already left.
    confirms = and_(
        _in(s.confirmed_at, start, end),
        s.status.in_(("confirmed", "unsubscribed")),
        confirmed_before_leaving,
    )
    leaves = and_(s.status == "unsubscribed", _in(s.unsubscribed_at, start, end))
    leaves_confirmed = and_(leaves, confirmed_before_leaving)
    leaves_pending = and_(leaves, ~confirmed_before_leaving)

    def count(condition):
        return func.count(case((condition, 1)))

    return select(
        count(_in(s.created_at, start, end)),
        count(_in(s.confirmed_at, start, end)),
        count(leaves),
        count(confirms),
        count(leaves_confirmed),
        count(leaves_pending),
    ).where(
        or_(
            _in(s.created_at, start, end),
            _in(s.confirmed_at, start, end),
            _in(s.unsubscribed_at, start, end),
        )
    )


def _window(session: Session, start: datetime, end: datetime) -> _Window:
    row = session.execute(_window_statement(start, end)).one()
    signups, confirmations, unsubscribes, confirmed_in, left_confirmed, left_pending = row
    return _Window(
        signups=signups,
        confirmations=confirmations,
        unsubscribes=unsubscribes,
        pending=signups - confirmed_in - left_pending,
        confirmed=confirmed_in - left_confirmed,
        unsubscribed=unsubscribes,
    )


def _status_statement():
    return select(Subscriber.status, func.count()).group_by(Subscriber.status)


def status_counts(session: Session) -> dict[str, int]:
    """Subscribers by status now (one GROUP BY: an index-only scan of ix_subscribers_status
    on PostgreSQL)."""
    found = dict(session.execute(_status_statement()).all())
    return {status: found.get(status, 0) for status in STATUSES}


def _bounces_statement(start: datetime, end: datetime):
    """A window's bounce events by kind (a range scan of ix_bounce_events_occurred_at)."""
    return (
        select(BounceEvent.kind, func.count())
        .where(_in(BounceEvent.occurred_at, start, end))
        .group_by(BounceEvent.kind)
    )


def _bounces(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    found = dict(session.execute(_bounces_statement(start, end)).all())
    return {kind: found.get(kind, 0) for kind in ("hard", "soft", "complaint")}


def _upsert(session: Session, rows: list[dict]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(DailyStat).values(rows)
    columns = {name: statement.excluded[name] for name in rows[0] if name != "day"}
    session.execute(statement.on_conflict_do_update(index_elements=["day"], set_=columns))


def compute_days(session: Session, days: list[date], now: datetime) -> list[dict]:
    """The `daily_stats` values for `days` (consecutive, ascending, the last one today),
    computed from the rows without storing them. Reads subscribers by status once (the one
    query that reads every row) and two indexed range queries per day."""
    totals = status_counts(session)
    rows = []
    end = now
    for day in reversed(days):
        start = day_start(day)
        window = _window(session, start, min(end, day_start(day + timedelta(1))))
        # Anything stamped after `now` (a clock that jumped) belongs to no day yet.
        bounces = _bounces(session, start, min(now, day_start(day + timedelta(1))))
        rows.append(
            {
                "day": day,
                "signups": window.signups,
                "confirmations": window.confirmations,
                "unsubscribes": window.unsubscribes,
                "bounces_hard": bounces["hard"],
                "bounces_soft": bounces["soft"],
                "complaints": bounces["complaint"],
                "confirmed_total": totals["confirmed"],
                "pending_total": totals["pending"],
                "unsubscribed_total": totals["unsubscribed"],
                "computed_at": now,
            }
        )
        totals = {
            "pending": totals["pending"] - window.pending,
            "confirmed": totals["confirmed"] - window.confirmed,
            "unsubscribed": totals["unsubscribed"] - window.unsubscribed,
        }
        end = start
    rows.reverse()
    return rows


def rollup(session: Session, now: datetime | None = None) -> list[date]:
    """Recompute today's and yesterday's rows (UTC) and upsert them; returns their days.

    Idempotent: a second run writes the same numbers. Changes after today started are
    subtracted from today's counts first, so yesterday's totals are those at its end. The
    caller commits.
    """
    now = now or utcnow()
    today = now.astimezone(UTC).date()
    days = [today - timedelta(1), today]
    _upsert(session, compute_days(session, days, now))
    return days


def rebuild(session: Session, now: datetime | None = None) -> int:
    """Recompute every day from the first subscriber or bounce until today; returns how many.

    Older days are then what the rows say now: erased readers and readers who signed up again
    change them (the beat task never does). The caller commits.
    """
    now = now or utcnow()
    first = session.scalar(select(func.min(Subscriber.created_at)))
    first_bounce = session.scalar(select(func.min(BounceEvent.occurred_at)))
    starts = [stamp for stamp in (first, first_bounce) if stamp is not None]
    today = now.astimezone(UTC).date()
    start_day = min(starts).astimezone(UTC).date() if starts else today
    start_day = min(start_day, today)
    days = [start_day + timedelta(n) for n in range((today - start_day).days + 1)]
    rows = compute_days(session, days, now)
    for chunk in range(0, len(rows), 500):
        _upsert(session, rows[chunk : chunk + 500])
    return len(rows)
