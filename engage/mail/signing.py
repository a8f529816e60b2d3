"""DKIM: every message is signed in one place, the SMTP transport, just before it goes out.

The signature covers what a reader sees or acts on (From, To, Subject, Date, Message-ID), the
MIME structure, the list headers of RFC 2369/8058 (a mailbox provider trusts a one-click
unsubscribe only when the signature covers it) and Auto-Submitted. From, Subject and the list
headers are over-signed: named once more than they occur, so a header of that name added
on the way (a second From, a List-Unsubscribe slipped into a transactional email) breaks the
signature instead of riding on it.
"""

from __future__ import annotations

import dkim

CRLF = b"\r\n"

# Signed when present, in this order.
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"auto-submitted",
)
# Named one extra time, whether present or not.
OVER_SIGNED = frozenset(
    (b"from", b"subject", b"list-id", b"list-unsubscribe", b"list-unsubscribe-post")
)


def signed_header_list(names: list[bytes]) -> list[bytes]:
    """The `h=` list for a message whose header names are `names` (any case)."""
    present = [name.lower() for name in names]
    listed: list[bytes] = []
    for name in SIGNED_HEADERS:
        count = present.count(name) + (1 if name in OVER_SIGNED else 0)
        listed.extend([name] * count)
    return listed


class DkimSigner:
    """Signs wire bytes with rsa-sha256, relaxed/relaxed (see the module's docstring)."""

    def __init__(self, private_key: str, selector: str, domain: str):
        self.private_key = private_key.encode()
        self.selector = selector.encode()
        self.domain = domain.encode()

    def sign(self, raw: bytes) -> bytes:
        """`raw` with a DKIM-Signature header in front. Raises dkim.DKIMException for a
        message it cannot sign (no From header, a bad key)."""
        message = dkim.DKIM(raw, linesep=CRLF)
        signature = message.sign(
            self.selector,
            self.domain,
            self.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=signed_header_list([name for name, _ in message.headers]),
        )
        return signature + raw


def signer_from_settings(settings) -> DkimSigner | None:
    """A signer when DKIM is configured (engage.config.Settings), else None."""
    if not settings.dkim_enabled:
        return None
    return DkimSigner(settings.dkim_private_key, settings.dkim_selector, settings.dkim_domain)
