"""Signed tokens for links in emails: one salt and one lifetime per purpose.

Tokens are signed, not encrypted, so they carry ids, never an email address. They are not
single-use by themselves: the caller checks the state the token acts on. Keys rotate through
SECRET_KEYS (oldest first): the newest signs, every listed key verifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


@dataclass(frozen=True)
class Purpose:
    salt: str
    max_age: timedelta


PURPOSES = {
    "confirm": Purpose("engage.confirm", timedelta(hours=48)),
    "preferences": Purpose("engage.preferences", timedelta(days=365)),
    "comment-edit": Purpose("engage.comment-edit", timedelta(minutes=15)),
    "moderation-action": Purpose("engage.moderation-action", timedelta(days=7)),
    "organiser-verify": Purpose("engage.organiser-verify", timedelta(days=7)),
    # The "update your listing" link emailed on approval: it must outlive a busy season.
    "organiser-edit": Purpose("engage.organiser-edit", timedelta(days=365)),
}


class TokenError(ValueError):
    """The token cannot be used. `expired` tells an old link from a forged or broken one."""

    def __init__(self, message: str, expired: bool = False):
        super().__init__(message)
        self.expired = expired


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise KeyError(f"unknown token purpose {purpose!r}")
    keys = current_app.config["ENGAGE"].secret_keys
    return URLSafeTimedSerializer(keys, salt=PURPOSES[purpose].salt)


def make_token(purpose: str, payload: dict | list | str | int) -> str:
    """Sign `payload` (JSON; ids, never addresses) for one purpose."""
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str, max_age: timedelta | None = None):
    """The payload of a valid token. Raises TokenError (with `.expired`) otherwise."""
    age = max_age or PURPOSES[purpose].max_age
    try:
        return _serializer(purpose).loads(token, max_age=int(age.total_seconds()))
    except SignatureExpired:
        raise TokenError("This link has expired.", expired=True) from None
    except BadSignature:
        raise TokenError("This link is not valid. It may have been copied incompletely.") from None
