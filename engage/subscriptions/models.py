"""Subscribers, what they chose to receive, and the evidence of their consent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage.extensions import db
from engage.tokens import derived_link_key
from engage.types import UTCDateTime, opaque_id, utcnow

SUBSCRIBER_STATUSES = ("pending", "confirmed", "unsubscribed")
DIGEST_FREQUENCIES = ("off", "weekly", "daily")

subscriber_topics = Table(
    "subscriber_topics",
    db.metadata,
    Column("subscriber_id", ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
)


class Topic(db.Model):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(500), default="")
    is_default: Mapped[bool] = mapped_column(default=False)


class Subscriber(db.Model):
    """A reader's address and choices. `email` is normalised; it is NULL once erased."""

    __tablename__ = "subscribers"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'confirmed', 'unsubscribed')", name="status"),
        CheckConstraint("digest IN ('off', 'weekly', 'daily')", name="digest"),
        # The subscriber desk's "address starts with" search is `email LIKE 'prefix%'`: under a
        # non-C collation PostgreSQL's unique index cannot serve LIKE, a pattern_ops one can.
        # On SQLite (which ignores the option) it is a plain index on email that serves the
        # same search as a range (engage/subscriptions/desk.py), as the unique one could.
        Index(
            "ix_subscribers_email_pattern", "email", postgresql_ops={"email": "varchar_pattern_ops"}
        ),
        # Ids appear in links: SQLite must never hand a deleted row's id to a new one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    # Keyed hash of the normalised address: finds a subscriber without scanning addresses.
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    digest: Mapped[str] = mapped_column(String(8), default="off")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    interests: Mapped[dict] = mapped_column(JSON, default=dict)
    # Opaque id in /u/<id> unsubscribe links: random, stored, revocable, survives key rotation.
    # Also the insert sentinel: set before the INSERT and unique, it lets SQLite (whose
    # RETURNING has no order) take a bulk import's new rows in one statement too.
    unsubscribe_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=opaque_id, insert_sentinel=True
    )
    # Indexed for the desk's "signed up between" filter: an old month is otherwise found by
    # reading every newer row first.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmations_sent_today: Mapped[int] = mapped_column(default=0)
    hard_bounces: Mapped[int] = mapped_column(default=0)
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    topics: Mapped[list[Topic]] = relationship(secondary=subscriber_topics, lazy="selectin")
    consents: Mapped[list[Consent]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", order_by="Consent.id"
    )

    @property
    def link_key(self) -> str | None:
        """The key every signed link to this subscriber carries (engage.tokens), derived from
        the random unsubscribe id: a link to a deleted subscriber never opens the one who got
        the id next, and a new unsubscribe id revokes every link at once."""
        return derived_link_key(self.unsubscribe_id) if self.unsubscribe_id else None


class Consent(db.Model):
    """Evidence of one sign-up: what the reader agreed to, where, and when it was confirmed."""

    __tablename__ = "consents"
    # The confirmation link names the consent: its id is never reused either.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(String(32))
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subscriber: Mapped[Subscriber] = relationship(back_populates="consents")


class Suppression(db.Model):
    """An address nothing may be sent to without new consent, kept only as a keyed hash."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SuppressionLift(db.Model):
    """A suppression an admin lifted, and why: the suppression row goes, this stays.

    Lifting re-subscribes nobody: it only lets a new sign-up (or import) with that address be
    mailed again. Who lifted it is a staff account or an API key (either may be deleted later;
    `lifted_by` keeps how they were named).
    """

    __tablename__ = "suppression_lifts"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    suppression_id: Mapped[int] = mapped_column()  # the lifted row's id, never reused
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    suppressed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(String(500))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    lifted_by: Mapped[str] = mapped_column(String(300))
    lifted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
