"""Reader replies under articles and every moderation decision taken on them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engage.extensions import db
from engage.types import UTCDateTime, utcnow

COMMENT_STATUSES = ("pending", "approved", "rejected", "spam")


class Comment(db.Model):
    """A reply. The author's email is never published; `author_email_hash` groups their history."""

    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected', 'spam')", name="status"),
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
