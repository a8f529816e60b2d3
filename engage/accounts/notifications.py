"""What each member of staff is mailed about, and how often: the rules, not the emails.

Kinds: `held_replies` (moderators and up), `submissions` and `failed_mail` (editors and up).
Choices: `immediate` (when it happens), `batched` (every 15 minutes), `daily`, `off`.

Defaults, for a user who has chosen nothing: held replies follow the site setting
MODERATOR_NOTIFY (itself `batched` unless set), so a held reply is not mailed to every member
of staff at once; submissions are `daily`; failed mail is `daily` for admins, `off` for others.
A reply flagged needs care is mailed at once to those on `immediate` *and* on `batched`: a
reader in crisis should not wait for the next batch (engage/comments/emails.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.accounts.models import NOTIFY_CHOICES, NOTIFY_KINDS, StaffNotification, User

# The role a kind needs (admin ⊇ editor ⊇ moderator).
KIND_ROLES = {"held_replies": "moderator", "submissions": "editor", "failed_mail": "editor"}
KIND_LABELS = {
    "held_replies": "Replies held for moderation",
    "submissions": "New groups and events waiting for review",
    "failed_mail": "Email that could not be sent",
}
CHOICE_LABELS = {
    "immediate": "At once, one email each",
    "batched": "Every 15 minutes, in one email",
    "daily": "Once a day, in one email",
    "off": "Never",
}
# Beat runs every 15 minutes: a little under a day keeps the daily email from drifting later.
DAILY = timedelta(hours=23, minutes=50)


class NotificationError(ValueError):
    """A choice that cannot be saved; the message says why, for the form."""


def kinds_for(user: User) -> list[str]:
    """The kinds `user`'s role may receive, in the page's order."""
    return [kind for kind in NOTIFY_KINDS if user.can(KIND_ROLES[kind])]


def default_choice(user: User, kind: str) -> str:
    if kind == "held_replies":
        return current_app.config["ENGAGE"].moderator_notify
    if kind == "submissions":
        return "daily"
    return "daily" if user.can("admin") else "off"


def _rows(session: Session, user_ids: Iterable[int], kind: str) -> dict[int, StaffNotification]:
    ids = list(user_ids)
    if not ids:
        return {}
    rows = session.scalars(
        select(StaffNotification).where(
            StaffNotification.user_id.in_(ids), StaffNotification.kind == kind
        )
    )
    return {row.user_id: row for row in rows}


def row_for(session: Session, user: User, kind: str) -> StaffNotification:
    """The user's row for `kind`, created (flushed) if missing."""
    row = session.get(StaffNotification, (user.id, kind))
    if row is None:
        row = StaffNotification(user_id=user.id, kind=kind)
        session.add(row)
        session.flush()
    return row


def choices_of(session: Session, user: User) -> dict[str, str]:
    """{kind: choice in effect} for the kinds `user` may receive (defaults filled in)."""
    chosen = {
        row.kind: row.choice
        for row in session.scalars(
            select(StaffNotification).where(StaffNotification.user_id == user.id)
        )
    }
    return {kind: chosen.get(kind) or default_choice(user, kind) for kind in kinds_for(user)}


def save_choices(session: Session, user: User, choices: dict[str, str]) -> None:
    """Store `user`'s choices, {kind: choice}. Raises NotificationError for a kind the role
    may not receive or an unknown choice (nothing is stored then). Flushes; caller commits."""
    allowed = kinds_for(user)
    for kind, choice in choices.items():
        if kind not in NOTIFY_KINDS:
            raise NotificationError(f"There is no kind of notice called {kind!r}.")
        if kind not in allowed:
            raise NotificationError(f"Your role does not receive “{KIND_LABELS[kind]}”.")
        if choice not in NOTIFY_CHOICES:
            raise NotificationError(f"Choose how often for “{KIND_LABELS[kind]}”.")
    for kind, choice in choices.items():
        row_for(session, user, kind).choice = choice
    session.flush()


def recipients(
    session: Session, kind: str, choices: set[str], now: datetime | None = None
) -> list[tuple[User, StaffNotification | None]]:
    """Active staff allowed `kind` whose choice in effect is in `choices`, with their row.

    With `now`, a `daily` user is left out until a day has passed since their last email."""
    users = [
        user
        for user in session.scalars(select(User).where(User.active).order_by(User.id))
        if user.can(KIND_ROLES[kind])
    ]
    rows = _rows(session, (u.id for u in users), kind)
    found = []
    for user in users:
        row = rows.get(user.id)
        choice = (row.choice if row else None) or default_choice(user, kind)
        if choice not in choices:
            continue
        last = row.last_notified_at if row else None
        if now is not None and choice == "daily" and last and now - last < DAILY:
            continue
        found.append((user, row))
    return found


def mark_sent(
    session: Session, user: User, kind: str, now: datetime, watermark: datetime | None = None
) -> None:
    """Record an email to `user` about `kind` (and the newest item it listed). Flushes."""
    row = row_for(session, user, kind)
    row.last_notified_at = now
    if watermark is not None and (row.watermark is None or watermark > row.watermark):
        row.watermark = watermark
    session.flush()
