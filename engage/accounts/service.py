"""Staff accounts and API keys: the rules, without Flask requests or commits."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from engage.accounts.models import ROLES, ApiKey, User
from engage.addresses import InvalidAddress, normalise_email
from engage.types import opaque_id, utcnow

MIN_PASSWORD_LENGTH = 12
MAX_KEY_NAME = 120  # the ApiKey.name column
MAX_KEY_DAYS = 3650
#: How stale `ApiKey.last_used_at` may be: a busy key writes its row once a minute, not per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Compared against when the address is unknown, so a login takes as long either way.
_DUMMY_HASH = generate_password_hash("engage-timing-equaliser")


class AccountError(ValueError):
    """Input that cannot make an account or key; the message is fit to show the person.
    `field` names the input it is about."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def normalise_staff_email(email: str) -> str:
    """The address as stored for a staff user. Raises AccountError."""
    try:
        return normalise_email(email)
    except InvalidAddress as exc:
        raise AccountError(exc.detail) from None


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


class InvalidApiKey(ValueError):
    """A bearer key that is unknown, revoked or expired; the message is fit for its holder."""


def _key_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise AccountError("an API key needs a name", "name")
    if len(name) > MAX_KEY_NAME:
        raise AccountError(f"the name is longer than {MAX_KEY_NAME} characters", "name")
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") for char in name):
        raise AccountError(
            "the name must not contain line breaks or other control characters", "name"
        )
    return name


def create_api_key(
    session: Session,
    name: str,
    role: str,
    created_by: User | None = None,
    *,
    expires_in_days: int | None = None,
    now: datetime | None = None,
):
    """Create a key; returns (ApiKey, the key in clear). Only the hash is stored.

    `expires_in_days` (1 to 3650, or None for a key that does not expire) sets `expires_at`.
    Raises AccountError on bad input; flushes, does not commit.
    """
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}", "role")
    name = _key_name(name)
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_KEY_DAYS:
        raise AccountError(
            f"the expiry must be a number of days from 1 to {MAX_KEY_DAYS}", "expires_in"
        )
    now = now or utcnow()
    secret = "eng_" + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        role=role,
        prefix=secret[:10],
        key_hash=_key_digest(secret),
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        created_by_id=created_by.id if created_by else None,
    )
    session.add(key)
    session.flush()
    return key, secret


def key_state(key: ApiKey, now: datetime | None = None) -> str:
    """ "active", "revoked" or "expired"."""
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def authenticate_api_key(session: Session, secret: str, now: datetime | None = None) -> ApiKey:
    """The live key matching `secret`. Raises InvalidApiKey saying whether it is unknown,
    revoked or expired (only the holder of the key itself can learn which)."""
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == _key_digest(secret)))
    if key is None:
        raise InvalidApiKey("This API key is not valid.")
    state = key_state(key, now)
    if state == "revoked":
        raise InvalidApiKey(
            f"This API key was revoked on {key.revoked_at:%Y-%m-%d %H:%M} UTC; "
            "ask an admin for a new one."
        )
    if state == "expired":
        raise InvalidApiKey(
            f"This API key expired on {key.expires_at:%Y-%m-%d %H:%M} UTC; "
            "ask an admin for a new one."
        )
    return key


def find_api_key(session: Session, secret: str) -> ApiKey | None:
    """The live key matching `secret`, or None (unknown, revoked or expired)."""
    try:
        return authenticate_api_key(session, secret)
    except InvalidApiKey:
        return None


def note_api_key_used(session: Session, key: ApiKey, now: datetime | None = None) -> bool:
    """Record that `key` was used, unless that was recorded less than a minute ago.

    Returns True if a row was written (the caller commits it at once, so a busy key's row is
    locked for a moment, not for a whole request). The UPDATE re-checks the age itself, so
    concurrent requests write it once.
    """
    now = now or utcnow()
    cutoff = now - LAST_USED_RESOLUTION
    if key.last_used_at is not None and key.last_used_at > cutoff:
        return False
    written = session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key.id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= cutoff),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if written:
        # Keep the loaded object in step without marking it dirty.
        set_committed_value(key, "last_used_at", now)
    return bool(written)


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every key, oldest first (revoked and expired ones too)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_api_key(session: Session, key_id: int, now: datetime | None = None):
    """Revoke a key at once; returns (ApiKey, True) or (ApiKey, False) if it already was.

    Raises AccountError for an id that names no key. Flushes, does not commit.
    """
    key = session.get(ApiKey, key_id) if 0 < key_id < 2**31 else None
    if key is None:
        raise AccountError(f"there is no API key with the id {key_id}")
    if key.revoked_at is not None:
        return key, False
    key.revoked_at = now or utcnow()
    session.flush()
    return key, True
