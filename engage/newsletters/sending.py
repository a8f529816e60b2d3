"""A newsletter as a producer for engage/sending: due newsletters start, their audience is
snapshotted into delivery rows, and batches send them.

- `tick` (every few seconds, from beat) starts due newsletters under a row lock, marks those
  found more than an hour late `missed`, finishes sends with nothing left and says which
  sends need batch workers.
- `send_batch` runs the sending package's batch loop with `NewsletterSend`.

These functions commit where the batch loop does (the task side of the domain); the tasks in
workers/tasks.py only load ids and send the follow-up tasks the returned plans name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session

from engage.core.database import is_postgres
from engage.mail.message import bulk_headers
from engage.mail.render import PREFERENCES_URL, UNSUBSCRIBE_URL
from engage.mail.service import transport as mail_transport
from engage.newsletters.models import Newsletter
from engage.newsletters.public import web_version_url
from engage.newsletters.render import NewsletterRenderError, render_newsletter
from engage.newsletters.service import audience_query, newsletter_topic_ids
from engage.sending import pipeline, verp
from engage.sending.mime import MessageTemplate
from engage.sending.models import Delivery
from engage.subscriptions.emails import list_headers, list_id, preferences_url, unsubscribe_url
from engage.subscriptions.models import Subscriber
from engage.types import utcnow
from engage.urls import external_url

log = logging.getLogger(__name__)

MISSED_AFTER = timedelta(hours=1)
deliveries = Delivery.__table__
newsletters = Newsletter.__table__


@dataclass
class Plan:
    """What `tick` did and which batch tasks to send: (newsletter id, how many)."""

    started: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    released: int = 0
    dispatch: list[tuple[int, int]] = field(default_factory=list)


def rows_of(newsletter_id: int):
    return deliveries.c.newsletter_id == newsletter_id


# --- starting ------------------------------------------------------------------------------


def snapshot_audience(session: Session, newsletter_id: int, now: datetime) -> int:
    """Insert one pending delivery row per reader of the newsletter's topics, in one
    INSERT … SELECT. Readers who already have a row keep it. Returns how many were added."""
    audience = audience_query(newsletter_topic_ids(newsletter_id)).where(
        ~select(deliveries.c.id)
        .where(
            deliveries.c.newsletter_id == newsletter_id,
            deliveries.c.subscriber_id == Subscriber.id,
        )
        .exists()
    )
    rows = audience.with_only_columns(
        literal(newsletter_id).label("newsletter_id"),
        Subscriber.id,
        literal("pending").label("status"),
        literal(0).label("attempts"),
        literal("").label("smtp_reply"),
        literal(now, Delivery.created_at.type).label("created_at"),
    )

    def count() -> int:
        return session.scalar(
            select(func.count()).where(deliveries.c.newsletter_id == newsletter_id)
        )

    before = count()  # rowcount of INSERT … SELECT is not reported by every driver
    session.execute(
        deliveries.insert().from_select(
            ["newsletter_id", "subscriber_id", "status", "attempts", "smtp_reply", "created_at"],
            rows,
        )
    )
    return count() - before


def start(session: Session, newsletter_id: int, now: datetime | None = None) -> int | None:
    """Move a scheduled newsletter to sending: render once, snapshot the audience.

    Returns the number of delivery rows, or None when the newsletter was not scheduled
    (another tick started it, or an editor changed it). A body that no longer renders pauses
    the send with the error as the reason. The caller commits.
    """
    now = now or utcnow()
    claimed = session.execute(
        update(newsletters)
        .where(newsletters.c.id == newsletter_id, newsletters.c.status == "scheduled")
        .values(status="sending", started_at=now, paused_reason="")
    )
    if claimed.rowcount != 1:
        return None
    newsletter = session.get(Newsletter, newsletter_id)
    session.refresh(newsletter)
    try:
        rendered = render_newsletter(
            newsletter.subject,
            newsletter.preheader,
            newsletter.body_markdown,
            newsletter.body_mjml,
            dated=now,
            web_url=web_version_url(newsletter),
        )
    except NewsletterRenderError as exc:
        newsletter.status = "paused"
        newsletter.paused_reason = f"The newsletter could not be rendered: {exc}"[:500]
        session.flush()
        return 0
    newsletter.rendered_html = rendered.html
    newsletter.rendered_text = rendered.text
    session.flush()
    total = snapshot_audience(session, newsletter_id, now)
    log.info("newsletter %s: sending to %d readers", newsletter_id, total)
    return total


def start_due(session: Session, now: datetime | None = None, limit: int = 20) -> Plan:
    """Start the scheduled newsletters that are due, under a row lock; mark `missed` the ones
    found more than an hour late (the scheduler was down): an editor decides about those."""
    now = now or utcnow()
    plan = Plan()
    query = (
        select(Newsletter.id, Newsletter.scheduled_at)
        .where(Newsletter.status == "scheduled", Newsletter.scheduled_at <= now)
        .order_by(Newsletter.scheduled_at)
        .limit(limit)
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    for newsletter_id, scheduled_at in session.execute(query).all():
        if scheduled_at < now - MISSED_AFTER:
            session.execute(
                update(newsletters)
                .where(newsletters.c.id == newsletter_id, newsletters.c.status == "scheduled")
                .values(status="missed")
            )
            plan.missed.append(newsletter_id)
            log.warning("newsletter %s missed its send time %s", newsletter_id, scheduled_at)
            continue
        total = start(session, newsletter_id, now)
        if total is not None:
            plan.started.append(newsletter_id)
            if total:
                plan.dispatch.append((newsletter_id, pipeline.workers_for(total)))
    return plan


# --- housekeeping --------------------------------------------------------------------------


def finish_if_done(session: Session, newsletter_id: int, now: datetime | None = None) -> bool:
    """Mark a sending newsletter `sent` once no row is pending or claimed. True if it was."""
    left = session.scalar(
        select(func.count()).where(
            deliveries.c.newsletter_id == newsletter_id,
            deliveries.c.status.in_(("pending", "claimed")),
        )
    )
    if left:
        return False
    result = session.execute(
        update(newsletters)
        .where(newsletters.c.id == newsletter_id, newsletters.c.status == "sending")
        .values(status="sent", finished_at=now or utcnow())
    )
    return result.rowcount == 1


def tick(session: Session, now: datetime | None = None) -> Plan:
    """The periodic step: start what is due, recover from dead workers, finish what is done,
    and plan batch tasks for sends that have due rows nobody is working on. The caller
    commits."""
    now = now or utcnow()
    plan = start_due(session, now)
    plan.released = pipeline.release_expired_leases(session, now=now)
    sending = session.scalars(
        select(Newsletter.id).where(
            Newsletter.status == "sending", Newsletter.id.not_in(plan.started or [0])
        )
    ).all()
    finished, dispatch = pipeline.survey(session, sending, rows_of, finish_if_done, now)
    plan.finished += finished
    plan.dispatch += dispatch
    return plan


# --- sending -------------------------------------------------------------------------------


def message_template(newsletter: Newsletter) -> MessageTemplate:
    """The newsletter's message, built once for the whole send from its stored rendering."""
    return pipeline.build_template(
        newsletter.subject, newsletter.rendered_html, newsletter.rendered_text
    )


RECIPIENT = (
    deliveries.c.claim_token,
    Subscriber.id,
    Subscriber.status,
    Subscriber.email,
    Subscriber.unsubscribe_id,
    Subscriber.digest,
)


class NewsletterSend:
    """A newsletter for the batch loop: one message template for every row."""

    def __init__(self, newsletter: Newsletter):
        self.id = newsletter.id
        self.label = f"newsletter {newsletter.id}"
        self.rows = rows_of(newsletter.id)
        self.template = message_template(newsletter)

    def row(self, delivery_id: int):
        return (
            select(*RECIPIENT, newsletters.c.status.label("parent_status"))
            .select_from(deliveries)
            .join(newsletters, newsletters.c.id == deliveries.c.newsletter_id)
            .join(Subscriber, Subscriber.id == deliveries.c.subscriber_id)
            .where(deliveries.c.id == delivery_id)
        )

    def active(self, row) -> bool:
        return row.parent_status == "sending"  # not paused or cancelled by an editor

    def wanted(self, row) -> bool:
        return True

    def message_template(self, db, row) -> MessageTemplate | None:
        return self.template

    def links(self, row) -> tuple[dict[str, str], dict[str, str]]:
        values = {UNSUBSCRIBE_URL: unsubscribe_url(row), PREFERENCES_URL: preferences_url(row)}
        return values, list_headers(row)

    def pause(self, db, reason: str) -> str:
        db.run(
            update(newsletters)
            .where(newsletters.c.id == self.id, newsletters.c.status == "sending")
            .values(status="paused", paused_reason=reason[:500])
        )
        return "paused"

    def finish(self, session) -> None:
        finish_if_done(session, self.id)


def send_batch(
    session: Session, newsletter_id: int, time_budget: float = pipeline.BATCH_TIME_BUDGET
) -> pipeline.BatchResult:
    """Send a newsletter's due rows over one SMTP connection (see pipeline.send_batches)."""

    def load(session: Session):
        newsletter = session.get(Newsletter, newsletter_id)
        if newsletter is None or newsletter.status != "sending":
            return None
        return NewsletterSend(newsletter)

    return pipeline.send_batches(session, load, time_budget)


# --- test messages -------------------------------------------------------------------------


def send_test_message(
    session: Session, newsletter_id: int, to: str, outbox_id: int | None = None
) -> str | None:
    """Send the newsletter as it stands to `to`, as a reader would get it: the same message
    template, list headers and signature, "[Test]" in the subject. Its unsubscribe and
    preferences links (in the body and List-Unsubscribe) lead to a page that changes nothing
    and says it was a test. `outbox_id` names the message in its VERP envelope sender.

    Returns the server's reply, or None if the newsletter is gone. Raises TemporaryFailure
    (the outbox retries) or PermanentFailure.
    """
    newsletter = session.get(Newsletter, newsletter_id)
    if newsletter is None:
        return None
    rendered = render_newsletter(
        newsletter.subject,
        newsletter.preheader,
        newsletter.body_markdown,
        newsletter.body_mjml,
        dated=utcnow(),
        web_url=web_version_url(newsletter),
    )
    template = pipeline.build_template(f"[Test] {rendered.subject}", rendered.html, rendered.text)
    # The page these open changes nothing and says it was a test (newsletters/public.py).
    unsubscribe = external_url("newsletters_public.test_link", kind="unsubscribe")
    preferences = external_url("newsletters_public.test_link", kind="preferences")
    message = template.build(
        to,
        {UNSUBSCRIBE_URL: unsubscribe, PREFERENCES_URL: preferences},
        bulk_headers(list_id(), unsubscribe),
    )
    settings = current_app.config["ENGAGE"]
    sender = verp.envelope_sender(settings, verp.OUTBOX, outbox_id, message.sender)
    with mail_transport() as transport:
        return transport.send_raw(
            sender, [message.recipient], message.raw, international=message.international
        )
