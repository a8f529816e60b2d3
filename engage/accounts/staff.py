"""Managing staff from /admin/staff: invitations, roles, deactivation, with the guards that
keep at least one active admin. Flushes, never commits."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engage.accounts.models import ROLES, User
from engage.accounts.service import (
    AccountError,
    end_sessions,
    hash_password,
    normalise_staff_email,
    set_password,
)
from engage.mail.service import queue_email
from engage.tokens import TokenError, carries_link_key, make_link_token, read_token
from engage.types import opaque_id, utcnow
from engage.urls import external_url

INVITE_PURPOSE = "staff-invite"
INVITE_HOURS = 72
MAX_NAME = 120  # the User.display_name column


class InviteSpent(TokenError):
    """A genuine invitation link that was used already (or replaced)."""


def list_staff(session: Session) -> list[User]:
    """Every staff user, active ones first, then by address."""
    return list(session.scalars(select(User).order_by(User.active.desc(), User.email)))


def _name(name: str) -> str:
    name = " ".join((name or "").split())
    if len(name) > MAX_NAME:
        raise AccountError(f"the name is longer than {MAX_NAME} characters", "name")
    return name


def invite(session: Session, email: str, name: str, role: str) -> User:
    """An inactive user with an invite secret; the caller mails `invite_token(user)`.

    Raises AccountError (with `field`) for bad input or an address already on the staff.
    """
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}", "role")
    address = normalise_staff_email(email)
    if session.scalar(select(User.id).where(func.lower(User.email) == address)):
        raise AccountError(f"{address} is already on the staff list", "email")
    user = User(
        email=address,
        display_name=_name(name),
        role=role,
        # Nobody knows this password: the account opens only through the invitation.
        password_hash=hash_password(secrets.token_urlsafe(32)),
        active=False,
        invite_secret=opaque_id(),
        invited_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user


def invite_token(user: User) -> str:
    """The signed token of `user`'s invitation link (72 hours; works once)."""
    return make_link_token(INVITE_PURPOSE, {"u": user.id}, user.invite_secret)


def invited_user(session: Session, token: str) -> User:
    """The user a still-usable invitation token names. Raises TokenError with a message
    saying whether the link expired, was used already, or is broken."""
    payload = read_token(INVITE_PURPOSE, token)
    user_id = payload.get("u") if isinstance(payload, dict) else None
    user = session.get(User, user_id) if isinstance(user_id, int) and 0 < user_id < 2**31 else None
    if user is None:
        raise TokenError("This invitation is no longer valid. Ask an admin for a new one.")
    if not carries_link_key(payload, user.invite_secret):
        raise InviteSpent(
            "This invitation was already used or replaced. If you set your password, "
            "sign in with it; otherwise ask an admin for a new invitation."
        )
    return user


def accept_invite(session: Session, user: User, password: str) -> None:
    """Set the password, activate the account and spend the invitation (flushed).
    Raises AccountError if the password is too short."""
    set_password(session, user, password)
    user.invite_secret = None
    user.active = True
    session.flush()


def _active_admins(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(User).where(User.role == "admin", User.active)
    )


def change_role(session: Session, actor: User, user: User, role: str) -> bool:
    """Give `user` another role; False if it already had it. Raises AccountError for an
    unknown role, an admin demoting themselves or the last active admin being demoted."""
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}", "role")
    if role == user.role:
        return False
    if user.role == "admin":
        if user.id == actor.id:
            raise AccountError("you cannot change your own role; ask another admin")
        if user.active and _active_admins(session) <= 1:
            raise AccountError(
                f"{user.email} is the last active admin: make someone else an admin first"
            )
    user.role = role
    # A session opened with the old rights must not keep them.
    end_sessions(user)
    session.flush()
    return True


def set_staff_active(session: Session, actor: User, user: User, active: bool) -> bool:
    """Deactivate (ending every session) or reactivate `user`; False if nothing changed.
    Raises AccountError for oneself, the last active admin, or a pending invitation."""
    if user.active == active:
        return False
    if not active:
        if user.id == actor.id:
            raise AccountError("you cannot deactivate your own account")
        if user.role == "admin" and _active_admins(session) <= 1:
            raise AccountError(f"{user.email} is the last active admin and stays active")
        end_sessions(user)
    elif user.invite_secret is not None:
        raise AccountError(
            f"{user.email} has not accepted the invitation yet: the account opens when they "
            "set a password"
        )
    user.active = active
    session.flush()
    return True


def queue_invite_email(user: User, inviter: User) -> None:
    """Queue the `staff_invite` email with `user`'s single-use link (in the outbox, in the
    current transaction: it goes when the caller commits)."""
    url = external_url("accounts.accept_invite", token=invite_token(user))
    context = {
        "name": user.display_name,
        "role": user.role,
        "inviter": inviter.display_name or inviter.email,
        "invite_url": url,
        "hours": INVITE_HOURS,
    }
    queue_email("staff_invite", user.email, context)
