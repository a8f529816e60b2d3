"""Staff notices about email that will not be sent (`failed_mail`).

Counts by email, and masked addresses only (`r•••@example.org`): staff open the failed-mail
page for the rest. Each member of staff hears about rows that failed after the newest one
their last notice listed (their watermark), so a rerun sends nothing twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.accounts import notifications
from engage.mail.message import mask_address
from engage.mail.service import queue_email
from engage.sending import outbox
from engage.sending.models import OutboxMessage
from engage.types import utcnow
from engage.urls import external_url

KIND = "failed_mail"
IMMEDIATE_TASK = "engage.staff.notify_immediate"
EMAIL = "staff_failed_mail"
SHOWN = 20  # masked addresses listed; the count says how many more


def _failed_since(session: Session, since: datetime | None, limit: int = 500) -> list:
    query = select(OutboxMessage).where(
        OutboxMessage.status == "failed",
        OutboxMessage.email.is_not(None),
        # Never a notice about a notice: a failing staff address would feed itself.
        OutboxMessage.email != EMAIL,
    )
    if since is not None:
        query = query.where(OutboxMessage.finished_at > since)
    return list(session.scalars(query.order_by(OutboxMessage.finished_at).limit(limit)))


def staff_failed_mail(rows: list) -> dict:
    """The notice's context: counts per email, a few masked addresses, the failed-mail page."""
    counts = Counter(row.email for row in rows)
    return {
        "total": len(rows),
        "by_email": [{"email": name, "count": n} for name, n in sorted(counts.items())],
        "addresses": [mask_address(row.recipient or "") for row in rows[-SHOWN:]],
        "failed_url": external_url("mail.failed"),
    }


def notify(session: Session, choices: set[str], now: datetime | None = None) -> int:
    """Email the staff on `choices` (with `daily` ones only once a day) about rows that failed
    since their watermark. Returns emails queued; flushes, caller commits."""
    now = now or utcnow()
    paced = None if choices == {"immediate"} else now
    sent = 0
    for user, row in notifications.recipients(session, KIND, choices, now=paced):
        rows = _failed_since(session, row.watermark if row else None)
        if not rows:
            continue
        queue_email(EMAIL, user.email, staff_failed_mail(rows))
        notifications.mark_sent(session, user, KIND, now, rows[-1].finished_at)
        sent += 1
    return sent


@outbox.after_failed("*")
def _failed(session: Session, row: OutboxMessage) -> None:
    # In the transaction that marks the row failed: the notice task is an outbox row too.
    if row.email != EMAIL and notifications.recipients(session, KIND, {"immediate"}):
        outbox.add(session, IMMEDIATE_TASK, [KIND])
