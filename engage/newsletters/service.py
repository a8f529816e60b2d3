"""Newsletter rules: composing, scheduling, and steering a send (pause, resume, cancel).

Plain arguments and a session in; functions flush, the caller commits. Work for the workers
(starting a send, a test message) is enqueued and leaves only when the caller commits.

    draft ─schedule─▶ scheduled ─(due, picked up by the periodic task)─▶ sending ─▶ sent
      ▲                 │   ▲                                            │    ▲
      └──unschedule─────┘   └─ missed (found > 1 hour late): reschedule  pause  resume
                                or send now                                ▼    │
    cancel: from scheduled, missed, sending or paused ─▶ cancelled       paused─┘
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from engage.addresses import without_encoded_words
from engage.mail.message import mask_address
from engage.newsletters.models import Newsletter, newsletter_topics
from engage.newsletters.render import NewsletterRenderError, render_newsletter
from engage.newsletters.validate import remote_images
from engage.queue import enqueue
from engage.sending.models import Delivery
from engage.sending.pipeline import delivery_counts
from engage.subscriptions.models import Subscriber, Suppression, Topic, subscriber_topics
from engage.subscriptions.service import InvalidAddress, normalise_email
from engage.types import utcnow

__all__ = [
    "EDITABLE",
    "NewsletterError",
    "NewsletterRenderError",
    "audience_count",
    "cancel",
    "counts",
    "create_newsletter",
    "delete_draft",
    "duplicate",
    "failures",
    "pause",
    "progress",
    "resume",
    "schedule",
    "send_now",
    "send_test",
    "unschedule",
    "update_newsletter",
]

EDITABLE = ("draft", "scheduled", "missed")
SCHEDULE_GRACE = timedelta(minutes=1)
MAX_SUBJECT = 200
START_TASK = "engage.newsletters.tick"


class NewsletterError(ValueError):
    """The change is not allowed; the message is fit to show the editor.

    `field` names the input at fault (subject, topics…), or is None for a state transition
    that is not allowed (the newsletter is already sending, sent…).
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _subject(value: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise NewsletterError("Please give the newsletter a subject.", "subject")
    if len(value) > MAX_SUBJECT:
        raise NewsletterError(f"The subject is longer than {MAX_SUBJECT} characters.", "subject")
    return value


def _preheader(value: str | None) -> str:
    value = " ".join((value or "").split())
    if len(value) > MAX_SUBJECT:
        raise NewsletterError(
            f"The preview text is longer than {MAX_SUBJECT} characters.", "preheader"
        )
    return value


def _topics(session: Session, slugs: list[str]) -> list[Topic]:
    wanted = sorted({slug for slug in slugs or [] if slug})
    if not wanted:
        return []
    found = list(session.scalars(select(Topic).where(Topic.slug.in_(wanted))).all())
    missing = sorted(set(wanted) - {topic.slug for topic in found})
    if missing:
        raise NewsletterError(f"There is no topic {', '.join(missing)}.", "topics")
    return found


def _body(body_markdown: str | None, body_mjml: str | None) -> tuple[str | None, str | None]:
    markdown = body_markdown if body_markdown and body_markdown.strip() else None
    mjml = body_mjml if body_mjml and body_mjml.strip() else None
    if markdown is None and mjml is None:
        raise NewsletterError("Please write the newsletter (Markdown or MJML).", "body_markdown")
    # No tracking: whichever way the body comes in (the form, the API), no remote image.
    remote = remote_images(mjml) if mjml is not None else []
    if remote:
        where = f"Line {remote[0].line}: " if remote[0].line else ""
        raise NewsletterError(where + remote[0].message, "body_mjml")
    return markdown, mjml


def _require(newsletter: Newsletter, allowed: tuple[str, ...], action: str) -> None:
    if newsletter.status not in allowed:
        raise NewsletterError(f"A newsletter that is {newsletter.status} cannot be {action}.")


def _lock(session: Session, newsletter: Newsletter) -> None:
    # Reread the status under a row lock (PostgreSQL), so a worker finishing the send at the
    # same moment is seen, not overwritten.
    session.flush()
    session.refresh(newsletter, with_for_update=True)


def create_newsletter(
    session: Session,
    *,
    subject: str,
    preheader: str = "",
    body_markdown: str | None = None,
    body_mjml: str | None = None,
    topic_slugs: list[str],
    created_by_id: int | None = None,
) -> Newsletter:
    """A draft. Raises NewsletterError for bad fields, NewsletterRenderError for a body that
    does not render (rendered once here to find out)."""
    subject = _subject(subject)
    preheader = _preheader(preheader)
    markdown, mjml = _body(body_markdown, body_mjml)
    topics = _topics(session, topic_slugs)
    render_newsletter(subject, preheader, markdown, mjml)
    newsletter = Newsletter(
        subject=subject,
        preheader=preheader,
        body_markdown=markdown,
        body_mjml=mjml,
        status="draft",
        paused_reason="",
        topics=topics,
        created_by_id=created_by_id,
        created_at=utcnow(),
    )
    session.add(newsletter)
    session.flush()
    return newsletter


def update_newsletter(
    session: Session,
    newsletter: Newsletter,
    *,
    subject: str,
    preheader: str,
    body_markdown: str | None,
    body_mjml: str | None,
    topic_slugs: list[str],
) -> Newsletter:
    """Change a draft, scheduled or missed newsletter. Raises NewsletterError or
    NewsletterRenderError."""
    _lock(session, newsletter)
    _require(newsletter, EDITABLE, "changed")
    subject = _subject(subject)
    preheader = _preheader(preheader)
    markdown, mjml = _body(body_markdown, body_mjml)
    topics = _topics(session, topic_slugs)
    render_newsletter(subject, preheader, markdown, mjml)
    newsletter.subject = subject
    newsletter.preheader = preheader
    newsletter.body_markdown = markdown
    newsletter.body_mjml = mjml
    newsletter.topics = topics
    session.flush()
    return newsletter


def schedule(
    session: Session, newsletter: Newsletter, send_at: datetime, now: datetime | None = None
) -> Newsletter:
    """Send at `send_at` (aware; stored in UTC): in the future, or at most a minute ago.

    Allowed from draft, scheduled and missed. Raises NewsletterError.
    """
    now = now or utcnow()
    if send_at.tzinfo is None:
        raise NewsletterError("The send time needs a time zone offset.", "send_at")
    send_at = send_at.astimezone(UTC)
    if send_at < now - SCHEDULE_GRACE:
        raise NewsletterError("The send time is in the past.", "send_at")
    _lock(session, newsletter)
    _require(newsletter, EDITABLE, "scheduled")
    if not newsletter.topics:
        raise NewsletterError("Choose at least one topic to send to.", "topics")
    newsletter.status = "scheduled"
    newsletter.scheduled_at = send_at
    newsletter.paused_reason = ""
    session.flush()
    return newsletter


def send_now(session: Session, newsletter: Newsletter) -> Newsletter:
    """Schedule for now and ask a worker to start at once (after the caller commits)."""
    schedule(session, newsletter, utcnow())
    enqueue(START_TASK)
    return newsletter


def unschedule(session: Session, newsletter: Newsletter) -> Newsletter:
    """Back to draft from scheduled or missed. Raises NewsletterError."""
    _lock(session, newsletter)
    _require(newsletter, ("scheduled", "missed"), "unscheduled")
    newsletter.status = "draft"
    newsletter.scheduled_at = None
    session.flush()
    return newsletter


def pause(session: Session, newsletter: Newsletter, reason: str = "") -> Newsletter:
    """Stop a send after the message in flight; `resume` continues where it stopped."""
    _lock(session, newsletter)
    _require(newsletter, ("sending",), "paused")
    newsletter.status = "paused"
    newsletter.paused_reason = (reason or "Paused by an editor.")[:500]
    session.flush()
    return newsletter


def resume(session: Session, newsletter: Newsletter) -> Newsletter:
    """Continue a paused send with the readers not yet sent to (after the caller commits)."""
    _lock(session, newsletter)
    _require(newsletter, ("paused",), "resumed")
    newsletter.status = "sending"
    newsletter.paused_reason = ""
    # Rows deferred while the server refused everyone come due at once: continue now.
    session.execute(
        update(Delivery)
        .where(Delivery.newsletter_id == newsletter.id, Delivery.status == "pending")
        .values(next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    enqueue(START_TASK)
    return newsletter


def cancel(session: Session, newsletter: Newsletter, now: datetime | None = None) -> Newsletter:
    """Stop for good: readers not yet sent to are skipped. Raises NewsletterError."""
    _lock(session, newsletter)
    _require(newsletter, ("scheduled", "missed", "sending", "paused"), "cancelled")
    newsletter.status = "cancelled"
    newsletter.finished_at = now or utcnow()
    session.execute(
        update(Delivery)
        .where(
            Delivery.newsletter_id == newsletter.id,
            Delivery.status.in_(("pending", "claimed")),
        )
        .values(status="skipped", lease_until=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return newsletter


def audience_query(topic_ids):
    """SELECT of the subscriber ids a send to these topics reaches: confirmed, with a usable
    address, not suppressed, once each however many of the topics they chose."""
    chosen = exists().where(
        subscriber_topics.c.subscriber_id == Subscriber.id,
        subscriber_topics.c.topic_id.in_(topic_ids),
    )
    suppressed = exists().where(Suppression.email_hash == Subscriber.email_hash)
    return select(Subscriber.id).where(
        Subscriber.status == "confirmed",
        Subscriber.email.is_not(None),
        without_encoded_words(Subscriber.email),
        chosen,
        ~suppressed,
    )


def newsletter_topic_ids(newsletter_id: int):
    return select(newsletter_topics.c.topic_id).where(
        newsletter_topics.c.newsletter_id == newsletter_id
    )


def audience_count(session: Session, topic_slugs: list[str]) -> int:
    """How many readers a send to these topics would reach now."""
    topic_ids = select(Topic.id).where(Topic.slug.in_(sorted(set(topic_slugs or []))))
    query = audience_query(topic_ids).subquery()
    return session.scalar(select(func.count()).select_from(query)) or 0


def readers_now(session: Session, newsletter: Newsletter) -> int:
    """How many readers a send of this newsletter would reach if it started now: the query
    the audience snapshot runs (engage/newsletters/sending.py), counted."""
    query = audience_query(newsletter_topic_ids(newsletter.id)).subquery()
    return session.scalar(select(func.count()).select_from(query)) or 0


def is_starting(newsletter: Newsletter, now: datetime | None = None) -> bool:
    """Scheduled and due: a worker is about to snapshot the audience and start."""
    return (
        newsletter.status == "scheduled"
        and newsletter.scheduled_at is not None
        and newsletter.scheduled_at <= (now or utcnow())
    )


COPY_PREFIX = "Copy of "


def duplicate(
    session: Session, newsletter: Newsletter, created_by_id: int | None = None
) -> Newsletter:
    """A new draft with this newsletter's content and topics, its subject "Copy of …" (cut to
    fit). Any newsletter can be copied, whatever its state."""
    subject = (COPY_PREFIX + newsletter.subject)[:MAX_SUBJECT].rstrip()
    copy = Newsletter(
        subject=subject,
        preheader=newsletter.preheader or "",
        body_markdown=newsletter.body_markdown,
        body_mjml=newsletter.body_mjml,
        status="draft",
        paused_reason="",
        topics=list(newsletter.topics),
        created_by_id=created_by_id,
        created_at=utcnow(),
    )
    session.add(copy)
    session.flush()
    return copy


def delete_draft(session: Session, newsletter: Newsletter) -> None:
    """Delete a draft for good. Raises NewsletterError for any other state: what was
    scheduled or sent stays, with its delivery rows."""
    _lock(session, newsletter)
    _require(newsletter, ("draft",), "deleted")
    session.delete(newsletter)
    session.flush()


def counts(session: Session, newsletter_id: int) -> dict[str, int]:
    """Delivery rows by status: total, sent, failed, pending (pending + claimed), skipped."""
    return delivery_counts(session, Delivery.newsletter_id == newsletter_id)


def progress(session: Session, newsletter: Newsletter, now: datetime | None = None) -> dict:
    """counts() plus status, paused_reason, rate_per_second (messages accepted over the last
    minute) and eta_seconds (None when unknown)."""
    now = now or utcnow()
    result = counts(session, newsletter.id)
    window = 60.0
    if newsletter.started_at is not None:
        window = max(1.0, min(window, (now - newsletter.started_at).total_seconds()))
    recent = session.scalar(
        select(func.count()).where(
            Delivery.newsletter_id == newsletter.id,
            Delivery.status == "sent",
            Delivery.sent_at >= now - timedelta(seconds=window),
        )
    )
    rate = (recent or 0) / window
    eta = None
    if newsletter.status == "sending":
        if result["pending"] == 0:
            eta = 0.0
        elif rate > 0:
            eta = round(result["pending"] / rate, 1)
    return {
        **result,
        "status": newsletter.status,
        "paused_reason": newsletter.paused_reason,
        "rate_per_second": round(rate, 2),
        "eta_seconds": eta,
    }


def failures(session: Session, newsletter_id: int, limit: int = 100) -> list[dict]:
    """Deliveries the server refused for good, oldest first, with masked addresses."""
    rows = session.execute(
        select(Subscriber.email, Delivery.smtp_reply, Delivery.status)
        .join(Subscriber, and_(Subscriber.id == Delivery.subscriber_id))
        .where(Delivery.newsletter_id == newsletter_id, Delivery.status == "failed")
        .order_by(Delivery.id)
        .limit(limit)
    ).all()
    return [
        {"email": mask_address(email or ""), "smtp_reply": reply, "status": status}
        for email, reply, status in rows
    ]


def send_test(newsletter: Newsletter, to: str) -> None:
    """Send the newsletter as it stands to `to`, marked as a test, from a worker after the
    caller commits. Raises NewsletterError for an unusable address."""
    try:
        address = normalise_email(to)
    except InvalidAddress as exc:
        raise NewsletterError(str(exc), "to") from None
    enqueue("engage.newsletters.send_test", newsletter.id, address)
