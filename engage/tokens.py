"""Signed tokens for links in emails: one salt and one lifetime per purpose.

Tokens are signed, not encrypted, so they carry ids, never an email address. They are not
single-use by themselves: the caller checks the state the token acts on. Keys rotate through
SECRET_KEYS (oldest first): the newest signs, every listed key verifies.

A token that names a row also carries that row's random `link_key` (`make_link_token`), and
the reader checks it (`link_key_matches`): a link to a deleted row can then never open a row
that later got the same id, and rotating the key (`rotate_link_key`) revokes every
outstanding link to the row at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from engage.types import opaque_id


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
    # A digest's "View in browser" link: it shows only public listings, and should keep
    # working for as long as anyone keeps the email.
    "digest-view": Purpose("engage.digest-view", timedelta(days=5 * 365)),
    # A staff invitation: sets a password once (bound to the user's invite secret).
    "staff-invite": Purpose("engage.staff-invite", timedelta(hours=72)),
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


# The payload field carrying the row's link key.
LINK_KEY_FIELD = "lk"


def make_link_token(purpose: str, payload: dict, link_key: str | None) -> str:
    """Sign `payload` for one purpose, bound to the link key of the row it names (flush a new
    row first: its key is set then). Raises ValueError without a key."""
    if not link_key:
        raise ValueError("the row has no link key yet: flush it first")
    return make_token(purpose, {**payload, LINK_KEY_FIELD: link_key})


def derived_link_key(secret_id: str) -> str:
    """A link key computed from a random id the row already keeps secret (a subscriber's
    unsubscribe id): a one-way hash, so a token never reveals the id itself."""
    digest = hashlib.sha256(b"engage.link-key:" + secret_id.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def link_key_matches(row: Any, payload: Any) -> bool:
    """Whether a token's payload carries `row`'s current link key (compared in constant time).

    False for a missing row, a token without a key (signed before rows had one) or a key
    that was rotated since.
    """
    return row is not None and carries_link_key(payload, row.link_key)


def carries_link_key(payload: Any, link_key: str | None) -> bool:
    """Whether a token's payload carries `link_key`, compared in constant time."""
    given = payload.get(LINK_KEY_FIELD) if isinstance(payload, dict) else None
    if not isinstance(given, str) or not link_key:
        return False
    return hmac.compare_digest(given.encode(), link_key.encode())


def rotate_link_key(row: Any) -> None:
    """Give `row` a new link key: every link made for it so far stops working. Not flushed.
    (A subscriber's key is derived: see engage.subscriptions.service.revoke_links.)"""
    row.link_key = opaque_id()
