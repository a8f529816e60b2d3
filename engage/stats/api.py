"""`GET /api/v1/stats`: the dashboard's figures as JSON, for editors."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from engage.api import Timestamp, api_route
from engage.extensions import db
from engage.stats import dashboard


class TotalsOut(BaseModel):
    confirmed: int
    pending: int
    unsubscribed: int


class RecentOut(BaseModel):
    days: int = Field(description="How many days the sums cover, today included.")
    signups: int
    confirmations: int
    unsubscribes: int
    bounces_hard: int
    bounces_soft: int
    complaints: int


class WaitingOut(BaseModel):
    replies_pending: int
    replies_needs_care: int
    replies_reported: int
    listings_to_review: int
    listings_to_check: int
    failed_mail: int


class DayOut(BaseModel):
    day: dt.date = Field(description="The UTC day.")
    signups: int
    confirmations: int
    unsubscribes: int
    bounces_hard: int
    bounces_soft: int
    complaints: int
    confirmed_total: int = Field(description="Confirmed subscribers at the end of the day.")
    pending_total: int
    unsubscribed_total: int
    net_growth: int = Field(description="Change in confirmed subscribers that day.")
    known: bool = Field(
        description="False for a day before the first one computed (all zero); "
        "`flask --app engage stats rebuild` computes them."
    )


class SendOut(BaseModel):
    newsletter_id: int
    subject: str
    started_at: Timestamp
    status: str
    recipients: int
    delivered: int
    deferred: int
    bounced: int
    complaints: int
    unsubscribed: int = Field(description="Recipients who unsubscribed within 7 days of it.")


class StatsOut(BaseModel):
    as_of: Timestamp = Field(description="When today's figures were computed.")
    totals: TotalsOut
    last_30_days: RecentOut
    waiting: WaitingOut
    series: list[DayOut] = Field(description="One entry per UTC day, oldest first.")
    sends: list[SendOut] = Field(description="The latest sends, newest first.")


@api_route("/stats", role="editor", response=StatsOut, tags=["stats"])
def get_stats():
    """The staff dashboard's figures

    Subscriber totals, sums over the last 30 days, what waits for someone, the last 90 days
    one by one, and the outcomes of the latest sends. Counts only: nothing about any one
    reader. Today's figures are brought up to date every few minutes.
    """
    stats = dashboard.stats(db.session)
    waiting = dashboard.waiting(db.session, moderator=True, editor=True)
    return StatsOut(
        as_of=stats.as_of,
        totals=TotalsOut(
            confirmed=stats.confirmed, pending=stats.pending, unsubscribed=stats.unsubscribed
        ),
        last_30_days=RecentOut(days=dashboard.RECENT_DAYS, **stats.recent),
        waiting=WaitingOut(**{name: getattr(waiting, name) for name in WaitingOut.model_fields}),
        series=[DayOut(**vars(day)) for day in stats.series],
        sends=[SendOut(**vars(send)) for send in stats.sends],
    )
