"""What every provider's webhook shares: refusals, JSON reading, freshness, clean text.

A provider module reads one post (`Post`) and returns the `BounceReport`s in it, or raises
`Refused` with the status and message the sender gets back. Nothing here touches the database.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.datastructures import Headers

from engage.config import Settings
from engage.sending import verp
from engage.sending.verp import VerpToken

#: How far ahead of our clock a signed timestamp may be (the sender's clock runs a little fast).
CLOCK_SKEW = timedelta(seconds=60)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class Refused(Exception):
    """A post we do not act on: `status` and `message` are what its sender gets back."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def bad_shape(message: str) -> Refused:
    """A 400 for a body that is JSON but not what the provider sends."""
    return Refused(400, message, code="bad_request")


@dataclass(frozen=True)
class Post:
    """One webhook request, as a provider module reads it."""

    body: bytes
    headers: Headers
    settings: Settings
    now: datetime
    instance_path: str


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def load_json(body: bytes, what: str = "The body") -> Any:
    """The JSON value in `body`; a 400 naming `what` when it is not JSON."""
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise bad_shape(f"{what} is not valid JSON.") from None


def field(obj: Any, key: str, kind: type | tuple[type, ...], where: str, required: bool = True):
    """`obj[key]` when it is of `kind`; a 400 naming `where.key` when it is missing or not."""
    if not isinstance(obj, dict):
        raise bad_shape(f"`{where}` must be a JSON object.")
    value = obj.get(key)
    if value is None and not required:
        return None
    if value is None or not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise bad_shape(f"`{where}.{key}` is missing or not of the expected type.")
    return value


def clean(value: Any, limit: int) -> str:
    """`value` as one line of printable text (no NUL, which PostgreSQL refuses), cut to
    `limit` characters."""
    if value is None:
        return ""
    text = _SURROGATE.sub("\ufffd", str(value))  # JSON allows a lone one; UTF-8 does not
    return _CONTROL.sub(" ", text).strip()[:limit]


def timestamp(value: Any, where: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text or Unix seconds; a 400 naming `where`."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str) and value.strip().isdigit():
            moment = datetime.fromtimestamp(int(value.strip()), UTC)
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value.strip())
        else:
            raise ValueError(value)
        if moment.tzinfo is None:  # providers write UTC when they leave the offset out
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise bad_shape(f"`{where}` is not a timestamp.") from None


def occurred(value: Any, where: str, post: Post) -> datetime:
    """When the event happened, as the provider says (the post's time when it says nothing),
    never later than now: the soft-bounce window counts from it."""
    if value is None or value == "":
        return post.now
    return min(timestamp(value, where), post.now)


def check_fresh(moment: datetime, post: Post) -> None:
    """Refuse a post whose timestamp is older than the configured age, or from the future.

    A signed post can be captured and sent again; the age bounds how long that works, and the
    event ids stored with each bounce make a repeat inside the window change nothing.
    """
    max_age = post.settings.bounce_webhook_max_age_seconds
    if moment < post.now - timedelta(seconds=max_age):
        raise Refused(
            403,
            f"This post is stale: its timestamp is more than {max_age} seconds old.",
            code="stale",
        )
    if moment > post.now + CLOCK_SKEW:
        raise Refused(403, "This post's timestamp is in the future.", code="stale")


def verp_token(value: Any, settings: Settings) -> VerpToken | None:
    """The delivery row or outbox message a VERP address names, or None for any other value."""
    if not isinstance(value, str) or not value:
        return None
    return verp.parse(value, settings.hash_key, settings.bounce_address or None)
