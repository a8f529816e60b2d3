"""Reader replies under articles and every moderation decision taken on them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage.extensions import db
from engage.types import UTCDateTime, opaque_id, utcnow

COMMENT_STATUSES = ("pending", "approved", "rejected", "spam")


class Comment(db.Model):
    """A reply. The author's email is never published; `author_email_hash` groups their history."""

    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected', 'spam')", name="status"),
        # Ids appear in links: SQLite must never hand a deleted row's id to a new one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(80))
    author_email: Mapped[str | None] = mapped_column(String(254))
    author_email_hash: Mapped[str] = mapped_column(String(64), index=True)
    body_markdown: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    flag_needs_care: Mapped[bool] = mapped_column(default=False)
    flag_links: Mapped[bool] = mapped_column(default=False)
    flag_suspect: Mapped[bool] = mapped_column(default=False)
    link_count: Mapped[int] = mapped_column(default=0)
    notify_replies: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set once moderators were emailed about this reply (at once, or in the 15-minute batch).
    moderators_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Random, in every signed link to this row (engage.tokens): a link to a deleted row never
    # opens a new row with the same id, and rotating it revokes the row's outstanding links.
    link_key: Mapped[str] = mapped_column(String(32), default=opaque_id)
    # The last decision by a person (approve, reject, spam): from then on the author may
    # delete the reply but no longer change its text, so no decision is about unseen words.
    moderated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    article = relationship("Article")
    parent: Mapped[Comment | None] = relationship(remote_side=[id])


# Moderation queues are read by article and status, newest decisions first.
db.Index("ix_comments_article_status", Comment.article_id, Comment.status)


class ModerationAction(db.Model):
    """One decision on a reply, by a person or by the system. Append-only."""

    __tablename__ = "moderation_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(16))  # "system" or "user"
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- Commenters, reports, sanctions and single-use moderation links (migration 0003) ---------

SANCTION_KINDS = ("ban", "premoderate")
REPORT_REASONS = {
    "spam": "Spam or advertising",
    "abuse": "Abusive or hurtful",
    "privacy": "Shares someone's private information",
    "worried": "I am worried about the person who wrote it",
    "other": "Something else",
}
MODERATION_LINK_ACTIONS = ("approve", "reject")


class Commenter(db.Model):
    """One address that has replied, known by its keyed hash.

    Holds what belongs to the person rather than to one reply: the double opt-in for reply
    notifications and the opaque id of the one-click unsubscribe link. `email` is NULL once
    erased.
    """

    __tablename__ = "commenters"
    __table_args__ = {"sqlite_autoincrement": True}  # ids appear in links: never reused

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    notify_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notify_stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Opaque id in /replies/u/<id>: random, stored, survives key rotation (like Subscriber's).
    unsubscribe_id: Mapped[str] = mapped_column(String(32), unique=True, default=opaque_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Random, in every signed link to this row (engage.tokens): a link to a deleted row never
    # opens a new row with the same id, and rotating it revokes the row's outstanding links.
    link_key: Mapped[str] = mapped_column(String(32), default=opaque_id)

    @property
    def wants_notifications(self) -> bool:
        return (
            self.email is not None
            and self.notify_confirmed_at is not None
            and self.notify_stopped_at is None
        )


class CommentReport(db.Model):
    """A reader's report of a published reply. Resolved by the next moderator decision."""

    __tablename__ = "comment_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Sanction(db.Model):
    """A ban or pre-moderation of one address, kept only as its keyed hash."""

    __tablename__ = "comment_sanctions"
    __table_args__ = (
        CheckConstraint("kind IN ('ban', 'premoderate')", name="kind"),
        UniqueConstraint("email_hash", "kind", name="uq_comment_sanctions_hash_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DomainRule(db.Model):
    """A rule for every address at a domain (and its subdomains): ban or pre-moderate."""

    __tablename__ = "comment_domain_rules"
    __table_args__ = (CheckConstraint("kind IN ('ban', 'premoderate')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModerationLink(db.Model):
    """One emailed link: one action on one reply, for one moderator, usable once."""

    __tablename__ = "moderation_links"
    __table_args__ = (
        CheckConstraint("action IN ('approve', 'reject')", name="action"),
        # Ids appear in links: SQLite must never hand a deleted row's id to a new one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Random, in every signed link to this row (engage.tokens): a link to a deleted row never
    # opens a new row with the same id, and rotating it revokes the row's outstanding links.
    link_key: Mapped[str] = mapped_column(String(32), default=opaque_id)
