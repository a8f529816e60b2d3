"""Staff accounts and API keys: the rules, without Flask requests or commits."""

from __future__ import annotations

import hashlib
import secrets

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from engage.accounts.models import ROLES, ApiKey, User
from engage.types import opaque_id, utcnow

MIN_PASSWORD_LENGTH = 12
# Compared against when the address is unknown, so a login takes as long either way.
_DUMMY_HASH = generate_password_hash("engage-timing-equaliser")


class AccountError(ValueError):
    """Input that cannot make an account; the message is fit to show the person."""


def normalise_staff_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError(str(exc)) from None


def hash_password(password: str) -> str:
    """scrypt, Werkzeug's default: salted and memory-hard."""
    return generate_password_hash(password, method="scrypt")


def create_user(session: Session, email: str, password: str, role: str, name: str = "") -> User:
    """Add a staff user (flushed, not committed). Raises AccountError on bad input."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    address = normalise_staff_email(email)
    if session.scalar(select(User.id).where(func.lower(User.email) == address)):
        raise AccountError(f"a user with the address {address} already exists")
    user = User(email=address, password_hash=hash_password(password), role=role, display_name=name)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this address and password, or None (same cost either way)."""
    try:
        address = normalise_staff_email(email)
    except AccountError:
        address = ""
    user = session.scalar(select(User).where(User.email == address)) if address else None
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    user.last_login_at = utcnow()
    return user


def end_sessions(user: User) -> None:
    """End every session of `user`, on every device: sessions carry the old key. Not flushed."""
    user.session_key = opaque_id()


def set_password(session: Session, user: User, password: str) -> None:
    """Change the password and end every session (flushed). Raises AccountError if too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(password)
    end_sessions(user)
    session.flush()


def set_active(session: Session, user: User, active: bool) -> None:
    """Deactivate (or reactivate) an account; deactivation ends every session (flushed)."""
    if user.active and not active:
        end_sessions(user)
    user.active = active
    session.flush()


def find_user(session: Session, email: str) -> User | None:
    try:
        address = normalise_staff_email(email)
    except AccountError:
        return None
    return session.scalar(select(User).where(User.email == address))


def _key_digest(key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is safe and lets lookups use an index.
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, name: str, role: str, created_by: User | None = None):
    """Create a key; returns (ApiKey, the key in clear). Only the hash is stored."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise AccountError("an API key needs a name")
    secret = "eng_" + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name.strip(),
        role=role,
        prefix=secret[:10],
        key_hash=_key_digest(secret),
        created_by_id=created_by.id if created_by else None,
    )
    session.add(key)
    session.flush()
    return key, secret


def find_api_key(session: Session, secret: str) -> ApiKey | None:
    """The live key matching `secret`, or None. Marks it used."""
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == _key_digest(secret)))
    if key is None or key.revoked_at is not None:
        return None
    key.last_used_at = utcnow()
    return key
