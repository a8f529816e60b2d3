"""Newsletters and the per-recipient delivery rows the send pipeline works through."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage.extensions import db
from engage.subscriptions.models import Topic
from engage.types import RedactedString, UTCDateTime, utcnow

NEWSLETTER_STATUSES = ("draft", "scheduled", "sending", "paused", "sent", "cancelled", "missed")
DELIVERY_STATUSES = ("pending", "claimed", "sent", "failed", "skipped")

newsletter_topics = Table(
    "newsletter_topics",
    db.metadata,
    Column("newsletter_id", ForeignKey("newsletters.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
)


class Newsletter(db.Model):
    __tablename__ = "newsletters"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled', 'missed')",
            name="status",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    preheader: Mapped[str] = mapped_column(String(200), default="")
    body_markdown: Mapped[str | None] = mapped_column(Text)
    body_mjml: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why a send paused, often in the mail server's words: addresses masked when stored.
    paused_reason: Mapped[str] = mapped_column(RedactedString(500), default="")
    rendered_html: Mapped[str | None] = mapped_column(Text)
    rendered_text: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    topics: Mapped[list[Topic]] = relationship(secondary=newsletter_topics, lazy="selectin")


class Delivery(db.Model):
    """One message to one subscriber for one newsletter or digest edition; never two."""

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
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The server's last word on this message; it often quotes the recipient, so addresses
    # are masked when stored.
    smtp_reply: Mapped[str] = mapped_column(RedactedString(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    newsletter: Mapped[Newsletter | None] = relationship()
