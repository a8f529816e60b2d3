"""Column types shared by every area's models."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import DateTime, String
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def opaque_id() -> str:
    """A random, URL-safe id of 128 bits: unguessable and short enough for mail headers."""
    return secrets.token_urlsafe(16)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and read back timezone-aware on every backend.

    SQLite keeps no offset, so values are normalised to UTC on the way in and tagged UTC on the
    way out; naive datetimes are refused because their meaning is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware datetime in UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class RedactedString(TypeDecorator):
    """Text that may quote a mail server (an SMTP reply, an error): every email address in it
    is masked on the way in (`engage.mail.message.redact_addresses`), whoever writes it, ORM
    or Core, and the result is cut to the column's length."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        from engage.mail.message import redact_addresses

        redacted = redact_addresses(value)
        return redacted[: self.impl.length] if self.impl.length else redacted
