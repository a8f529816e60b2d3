"""Staff accounts and API keys."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from engage.extensions import db
from engage.types import UTCDateTime, opaque_id, utcnow

ROLES = ("admin", "editor", "moderator")
# What each role may do: an admin can do everything, an editor also moderates.
ROLE_GRANTS = {
    "admin": {"admin", "editor", "moderator"},
    "editor": {"editor", "moderator"},
    "moderator": {"moderator"},
}


def role_allows(role: str, needed: str) -> bool:
    return needed in ROLE_GRANTS.get(role, set())


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'editor', 'moderator')", name="role"),
        # The id is in every session cookie: SQLite must never give a deleted user's id away.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Random, stored in each session next to the id; a new one (sign-out, password change,
    # deactivation) ends every session of this user, wherever the cookie was copied to.
    session_key: Mapped[str] = mapped_column(String(32), default=opaque_id)
    # An invitation's link carries this random secret; accepting clears it, so a link works
    # once. While set (and the user inactive) the user has no usable password yet.
    invite_secret: Mapped[str | None] = mapped_column(String(32))
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # TOTP two-factor: the secret is encrypted with the app's secret keys (Fernet; see
    # engage.accounts.two_factor), set while set-up is pending and kept once enabled.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enabled: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # The TOTP time step of the last accepted code: a code is never accepted twice.
    totp_last_counter: Mapped[int | None] = mapped_column()
    # JSON list of SHA-256 hashes of the unused recovery codes.
    recovery_codes: Mapped[str | None] = mapped_column(Text)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the id and the current session key."""
        return f"{self.id}.{self.session_key}"

    def can(self, needed_role: str) -> bool:
        return role_allows(self.role, needed_role)


class ApiKey(db.Model):
    """A bearer key for /api/v1. Only a SHA-256 of the key is stored; the key is shown once."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'editor', 'moderator')", name="role"),
        {"sqlite_autoincrement": True},  # an id names one key in records, never two
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written at most once a minute per key (see service.note_api_key_used).
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


NOTIFY_KINDS = ("held_replies", "submissions", "failed_mail")
NOTIFY_CHOICES = ("immediate", "batched", "daily", "off")


class StaffNotification(db.Model):
    """One staff user's setting for one kind of notice, and what they were last sent.

    No row, or a row whose `choice` is None, means "the default" (engage/accounts/
    notifications.py). `watermark` is the newest item already mailed (a submission's
    confirmation time, a failed row's finish time), so a rerun sends nothing twice;
    `last_notified_at` is when the last email went, which paces the daily ones.
    """

    __tablename__ = "staff_notifications"
    __table_args__ = (
        CheckConstraint("kind IN ('held_replies', 'submissions', 'failed_mail')", name="kind"),
        CheckConstraint("choice IN ('immediate', 'batched', 'daily', 'off')", name="choice"),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    choice: Mapped[str | None] = mapped_column(String(16))
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
