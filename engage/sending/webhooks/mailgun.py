"""Mailgun's webhooks (the JSON kind): failed deliveries and complaints.

Each post carries `signature: {timestamp, token, signature}`, the signature being the hex
HMAC-SHA256 of `timestamp + token` under `MAILGUN_WEBHOOK_SIGNING_KEY`. In `event-data`,
`event` "failed" with `severity` "permanent" is hard and "temporary" soft; "complained" is a
complaint. Mailgun names the envelope sender (`envelope.sender`): our VERP address, when we
sent with one.
"""

from __future__ import annotations

import hashlib
import hmac

from engage.config import Settings
from engage.sending.bounces import BounceReport, status_in
from engage.sending.webhooks.common import (
    Post,
    Refused,
    bad_shape,
    check_fresh,
    clean,
    field,
    load_json,
    occurred,
    timestamp,
    verp_token,
)

SOURCE = "mailgun"


def configured(settings: Settings) -> bool:
    return bool(settings.mailgun_webhook_signing_key)


def _verify(post: Post, body: dict) -> str:
    signed = body.get("signature")
    if not isinstance(signed, dict) or not all(
        isinstance(signed.get(name), str) and signed.get(name)
        for name in ("timestamp", "token", "signature")
    ):
        raise Refused(
            401,
            "This post is not signed: it needs `signature` with `timestamp`, `token` and "
            "`signature`.",
            code="unauthorized",
        )
    key = post.settings.mailgun_webhook_signing_key.encode()
    expected = hmac.new(
        key, (signed["timestamp"] + signed["token"]).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), signed["signature"].strip().lower().encode()):
        raise Refused(403, "The Mailgun signature does not match this post.")
    return signed["timestamp"]


def receive(post: Post) -> list[BounceReport]:
    """The failure or complaint in one Mailgun post (none for other events).

    Raises Refused for an unsigned, badly signed or stale post, or one that is not a Mailgun
    event.
    """
    body = load_json(post.body)
    if not isinstance(body, dict):
        raise bad_shape("The body must be a JSON object (a Mailgun webhook).")
    stamp = _verify(post, body)
    check_fresh(timestamp(stamp, "signature.timestamp"), post)
    event = field(body, "event-data", dict, "body")
    what = event.get("event")
    if what == "complained":
        kind = "complaint"
    elif what == "failed":
        kind = "hard" if event.get("severity") == "permanent" else "soft"
    else:
        return []
    recipient = field(event, "recipient", str, "event-data")
    event_id = field(event, "id", str, "event-data")
    status = event.get("delivery-status")
    status = status if isinstance(status, dict) else {}
    diagnostic = clean(status.get("message") or status.get("description"), 1000)
    envelope = event.get("envelope")
    sender = envelope.get("sender") if isinstance(envelope, dict) else None
    return [
        BounceReport(
            kind=kind,
            recipient=clean(recipient, 320),
            token=verp_token(sender, post.settings),
            status=clean(status.get("enhanced-code"), 16)
            or status_in(diagnostic)
            or clean(status.get("code"), 16),
            diagnostic=diagnostic,
            source=SOURCE,
            event_id=clean(event_id, 200),
            occurred_at=occurred(event.get("timestamp"), "event-data.timestamp", post),
        )
    ]
