"""The daily aggregate the dashboard reads instead of scanning subscribers."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date
from sqlalchemy.orm import Mapped, mapped_column

from engage.extensions import db
from engage.sending.models import BounceEvent
from engage.subscriptions.models import Subscriber
from engage.types import UTCDateTime, utcnow


class DailyStat(db.Model):
    """Counts for one UTC day, kept by `engage.stats.rollup` (beat) and rebuilt by the CLI.

    Flows (`signups` … `complaints`) count what happened that day; the `*_total` columns are
    how many subscribers were in each status when the day ended (for today: at `computed_at`).
    Days before yesterday are not recomputed by the beat task, so they keep what was true
    then even after rows are erased or readers sign up again.
    """

    __tablename__ = "daily_stats"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    signups: Mapped[int] = mapped_column(default=0)
    confirmations: Mapped[int] = mapped_column(default=0)
    unsubscribes: Mapped[int] = mapped_column(default=0)
    bounces_hard: Mapped[int] = mapped_column(default=0)
    bounces_soft: Mapped[int] = mapped_column(default=0)
    complaints: Mapped[int] = mapped_column(default=0)
    confirmed_total: Mapped[int] = mapped_column(default=0)
    pending_total: Mapped[int] = mapped_column(default=0)
    unsubscribed_total: Mapped[int] = mapped_column(default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The rollup's range queries: a day's sign-ups, confirmations and unsubscribes, and the rows
# changed since a day ended (an OR of the three, which both backends answer from these indexes
# instead of reading every subscriber). Declared here, beside the only code that needs them;
# created_at's index is the subscriber's own (the desk's date filter uses it too).
db.Index("ix_subscribers_confirmed_at", Subscriber.confirmed_at)
db.Index("ix_subscribers_unsubscribed_at", Subscriber.unsubscribed_at)
# A day's bounces and complaints by kind.
db.Index("ix_bounce_events_occurred_at", BounceEvent.occurred_at)
