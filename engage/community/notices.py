"""Staff notices about new groups and events waiting for review (`submissions`).

A listing counts once its organiser confirmed their address; each member of staff is mailed
about those confirmed after the newest one their last notice listed (their watermark), so a
rerun sends nothing twice. No organiser address appears: names, kinds and the review page.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.accounts import notifications
from engage.community.models import Event, SupportGroup
from engage.community.service import kind_of, title_of
from engage.mail.service import queue_email
from engage.types import utcnow
from engage.urls import external_url

KIND = "submissions"


def _waiting(session: Session, since: datetime | None, limit: int = 100) -> list:
    found = []
    for model in (SupportGroup, Event):
        query = select(model).where(
            model.status == "pending", model.organiser_confirmed_at.is_not(None)
        )
        if since is not None:
            query = query.where(model.organiser_confirmed_at > since)
        found.extend(session.scalars(query.order_by(model.organiser_confirmed_at).limit(limit)))
    return sorted(found, key=lambda listing: listing.organiser_confirmed_at)[:limit]


def staff_submissions(listings: list) -> dict:
    """The notice's context: each listing's kind and name, and the review page."""
    return {
        "items": [{"kind": kind_of(item), "title": title_of(item)} for item in listings],
        "review_url": external_url("community_admin.index"),
    }


def notify(session: Session, choices: set[str], now: datetime | None = None) -> int:
    """Email the staff on `choices` (with `daily` ones only once a day) about submissions
    confirmed since their watermark. Returns emails queued; flushes, caller commits."""
    now = now or utcnow()
    paced = None if choices == {"immediate"} else now
    sent = 0
    for user, row in notifications.recipients(session, KIND, choices, now=paced):
        listings = _waiting(session, row.watermark if row else None)
        if not listings:
            continue
        queue_email("staff_submissions", user.email, staff_submissions(listings))
        notifications.mark_sent(session, user, KIND, now, listings[-1].organiser_confirmed_at)
        sent += 1
    return sent
