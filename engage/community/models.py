"""Support groups, events, and the digest editions that announce what is new."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage.extensions import db
from engage.types import UTCDateTime, opaque_id, utcnow

LISTING_STATUSES = ("pending", "approved", "rejected")
GROUP_FORMATS = ("in_person", "online", "hybrid")
RUN_BY = ("peer", "professional", "organisation")


class SupportGroup(db.Model):
    __tablename__ = "support_groups"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
        CheckConstraint("format IN ('in_person', 'online', 'hybrid')", name="format"),
        # Ids appear in links: SQLite must never hand a deleted row's id to a new one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(160), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    purposes: Mapped[list] = mapped_column(JSON, default=list)
    format: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(120), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    schedule: Mapped[str] = mapped_column(String(300), default="")
    next_meeting_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    language: Mapped[str] = mapped_column(String(40), default="English")
    run_by: Mapped[str] = mapped_column(String(16), default="peer")
    cost: Mapped[str] = mapped_column(String(120), default="Free")
    how_to_join: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    organiser_email: Mapped[str | None] = mapped_column(String(254))
    organiser_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[str] = mapped_column(String(500), default="")
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The zone `next_meeting_at` is shown in (an IANA name).
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # Set when the organiser (or an editor) changes a listing after it was submitted.
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An approved listing its organiser edited: public at once, flagged for an editor to check.
    needs_check: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # Random, in every signed link to this row (engage.tokens): a link to a deleted row never
    # opens a new row with the same id, and rotating it revokes the row's outstanding links.
    link_key: Mapped[str] = mapped_column(String(32), default=opaque_id)
    # Joining details kept off public pages, feeds and mail: a reader asks for them by email
    # (engage.community.joining). `how_to_join` often holds the call link of an online group.
    how_to_join_private: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    contact_private: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # The organiser asked to be told (never who) when a reader asks for those details.
    notify_requests: Mapped[bool] = mapped_column(default=False, server_default=sa_false())

    events: Mapped[list[Event]] = relationship(back_populates="group")


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
        # Ids appear in links: SQLite must never hand a deleted row's id to a new one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(160), unique=True)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_groups.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    location: Mapped[str] = mapped_column(String(300), default="")
    online_url: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    organiser_email: Mapped[str | None] = mapped_column(String(254))
    organiser_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[str] = mapped_column(String(500), default="")
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    needs_check: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # Random, in every signed link to this row (engage.tokens): a link to a deleted row never
    # opens a new row with the same id, and rotating it revokes the row's outstanding links.
    link_key: Mapped[str] = mapped_column(String(32), default=opaque_id)
    # As for groups: private details are sent on request. An online link is private unless
    # the organiser says otherwise (a public call link lets anyone walk into a meeting).
    location_private: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    online_url_private: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    notify_requests: Mapped[bool] = mapped_column(default=False, server_default=sa_false())

    group: Mapped[SupportGroup | None] = relationship(back_populates="events")


class DigestEdition(db.Model):
    """One digest period for one frequency ("weekly 2026-W48"); deliveries hang off it."""

    __tablename__ = "digest_editions"
    __table_args__ = (UniqueConstraint("frequency", "period", name="uq_digest_editions_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    frequency: Mapped[str] = mapped_column(String(8))
    period: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DigestRender(db.Model):
    """One distinct content set of an edition, rendered once (with placeholders for the
    per-reader links); every delivery of that content points here."""

    __tablename__ = "digest_renders"
    __table_args__ = (
        UniqueConstraint("edition_id", "content_key", name="uq_digest_renders_content"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("digest_editions.id", ondelete="CASCADE"))
    # sha256 of the listing ids shown, in order: readers who would see the same share it.
    content_key: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
