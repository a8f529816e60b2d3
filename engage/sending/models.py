"""The rows sending works through: one delivery per (bulk send, reader), and the outbox.

Delivery rows belong to a producer, named by which parent column is set: a newsletter or a
digest edition. The foreign keys name their tables by string, so this package imports none of
its producers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engage.extensions import db
from engage.types import RedactedString, UTCDateTime, utcnow

DELIVERY_STATUSES = ("pending", "claimed", "sent", "failed", "skipped")
OUTBOX_STATUSES = ("pending", "running", "done", "failed")


class Delivery(db.Model):
    """One message to one subscriber for one newsletter or digest edition; never two.

    A 4xx for this reader alone defers the row (`next_attempt_at`, `attempts`, the reply kept)
    while the batch goes on; after its attempts it ends `failed` with `bounce` "soft". A 5xx
    ends it `failed` with `bounce` "hard".
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("newsletter_id", "subscriber_id", name="uq_deliveries_newsletter"),
        UniqueConstraint("digest_edition_id", "subscriber_id", name="uq_deliveries_digest"),
        CheckConstraint(
            "(newsletter_id IS NULL) <> (digest_edition_id IS NULL)", name="one_parent"
        ),
        CheckConstraint(
            "status IN ('pending', 'claimed', 'sent', 'failed', 'skipped')", name="status"
        ),
        # Workers claim a newsletter's pending rows and count its rows by status.
        Index("ix_deliveries_newsletter_status", "newsletter_id", "status"),
        Index("ix_deliveries_digest_status", "digest_edition_id", "status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    newsletter_id: Mapped[int | None] = mapped_column(
        ForeignKey("newsletters.id", ondelete="CASCADE")
    )
    digest_edition_id: Mapped[int | None] = mapped_column(
        ForeignKey("digest_editions.id", ondelete="CASCADE")
    )
    # A digest delivery's content: the edition's render this reader shares with others.
    digest_render_id: Mapped[int | None] = mapped_column(
        ForeignKey("digest_renders.id", ondelete="CASCADE")
    )
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Random per claim: a worker whose lease ran out (and whose rows another worker took over)
    # can no longer mark them.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(default=0)
    # A deferred row (a 4xx for this reader) is not claimed again before this time.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_deferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "hard" or "soft" when failed in the SMTP session; a report that came back later
    # (engage/sending/bounces.py) sets it too, and "complaint" for a spam report.
    bounce: Mapped[str | None] = mapped_column(String(16))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    smtp_reply: Mapped[str] = mapped_column(RedactedString(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(db.Model):
    """Work for the workers, written in the transaction of the change that causes it.

    `task` names a Celery task; `args`/`kwargs` are its JSON arguments, kept here: the broker
    only ever carries this row's id. For email, `recipient` and `email` say what goes where
    (and let staff see failed mail). `status`: pending → running (leased) → done | failed;
    a temporary failure puts the row back to pending with `next_attempt_at` later.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name="status"),
        # The relay's sweep: what is pending and due, or running with a lapsed lease.
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(100))
    args: Mapped[list] = mapped_column(JSON, default=list)
    kwargs: Mapped[dict] = mapped_column(JSON, default=dict)
    email: Mapped[str | None] = mapped_column(String(100))  # the email's name, for mail rows
    recipient: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    relayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


BOUNCE_KINDS = ("hard", "soft", "complaint")


class BounceEvent(db.Model):
    """One bounce or complaint about one message, however it reached us (engage/sending/bounces.py).

    It names the delivery row or outbox message the VERP address named, when there was one,
    and the reader by id and by keyed hash of the address: never the address itself. The
    outbox id is a plain number because outbox rows are purged after days while the event
    stays; ids are never reused. `event_id` is the provider's id: the same one twice is one
    event.
    """

    __tablename__ = "bounce_events"
    __table_args__ = (
        CheckConstraint("kind IN ('hard', 'soft', 'complaint')", name="kind"),
        UniqueConstraint("source", "event_id", name="uq_bounce_events_source_event"),
        # A second report of the same kind about the same message is the same event.
        UniqueConstraint("delivery_id", "kind", name="uq_bounce_events_delivery_kind"),
        UniqueConstraint("outbox_id", "kind", name="uq_bounce_events_outbox_kind"),
        # The soft-bounce rule counts an address's recent soft bounces.
        Index("ix_bounce_events_email_hash_kind", "email_hash", "kind", "occurred_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), index=True
    )
    outbox_id: Mapped[int | None] = mapped_column()
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    email_hash: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="")
    diagnostic: Mapped[str] = mapped_column(RedactedString(500), default="")
    source: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
