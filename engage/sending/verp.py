"""VERP bounce addresses: the envelope sender names the message it belongs to.

With `BOUNCE_ADDRESS=bounces@example.org`, the delivery row 42 of a newsletter goes out with
`MAIL FROM:<bounces+d42.k3v9q2m7xa@example.org>` and the transactional message (outbox row) 7
with `bounces+o7.…@example.org`. A bounce that comes back days later, to that address, names
the row without our having to trust anything in the bounce's body. The token carries a keyed
check (HMAC with the address-hash key, which outlives secret-key rotation) so nobody can forge
a bounce for a row by guessing ids. Lower case only: some servers fold local parts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal

DELIVERY = "d"  # a row in `deliveries` (newsletters, digests)
OUTBOX = "o"  # a row in `outbox` (transactional mail)
Kind = Literal["d", "o"]

_TOKEN = re.compile(r"^(?P<kind>[do])(?P<id>[1-9][0-9]{0,18})\.(?P<check>[a-z2-7]{10})$")


@dataclass(frozen=True)
class VerpToken:
    """What a bounce address names: a delivery row or an outbox message."""

    kind: Kind
    id: int


def _check(key: str, kind: str, row_id: int) -> str:
    digest = hmac.new(key.encode(), f"verp:{kind}{row_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode("ascii").lower()[:10]


def token(key: str, kind: Kind, row_id: int) -> str:
    """`d42.k3v9q2m7xa`: the token for row `row_id` of `kind`, checked with `key`."""
    if kind not in (DELIVERY, OUTBOX) or row_id < 1:
        raise ValueError(f"no VERP token for {kind!r} {row_id!r}")
    return f"{kind}{row_id}.{_check(key, kind, row_id)}"


def address(bounce_address: str, key: str, kind: Kind, row_id: int) -> str:
    """`bounces+d42.k3v9q2m7xa@example.org` for `bounce_address` `bounces@example.org`."""
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{token(key, kind, row_id)}@{domain}"


def parse(value: str, key: str, bounce_address: str | None = None) -> VerpToken | None:
    """The row a VERP address or bare token names, or None when it is not one of ours.

    `value` may be a whole address (`bounces+d42.…@example.org`, in any case, with or without
    angle brackets) or the token alone. With `bounce_address`, the address's local part and
    domain must match it. A token whose check fails is None, never an error.
    """
    text = value.strip().strip("<>").lower()
    if "@" in text:
        local, _, domain = text.rpartition("@")
        base, plus, tok = local.partition("+")
        if not plus:
            return None
        if bounce_address is not None:
            want_local, _, want_domain = bounce_address.lower().rpartition("@")
            if base != want_local or domain != want_domain:
                return None
    else:
        tok = text
    match = _TOKEN.match(tok)
    if match is None:
        return None
    kind, row_id = match["kind"], int(match["id"])
    if not hmac.compare_digest(match["check"], _check(key, kind, row_id)):
        return None
    return VerpToken(kind, row_id)  # type: ignore[arg-type]


def envelope_sender(settings, kind: Kind, row_id: int | None, fallback: str) -> str:
    """The SMTP `MAIL FROM` for the message of row `row_id`: its VERP address when
    BOUNCE_ADDRESS is set (engage.config.Settings), else `fallback` (MAIL_FROM's address).
    A message with no row (None) gets `fallback` too."""
    if not settings.bounce_address or not row_id:
        return fallback
    return address(settings.bounce_address, settings.hash_key, kind, row_id)
