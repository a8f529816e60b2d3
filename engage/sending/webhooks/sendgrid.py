"""SendGrid's Signed Event Webhook: bounces, drops and spam reports.

SendGrid signs `timestamp + raw body` with ECDSA P-256 and SHA-256; the signature (base64
DER) and the timestamp (Unix seconds) come in the headers
`X-Twilio-Email-Event-Webhook-Signature` and `X-Twilio-Email-Event-Webhook-Timestamp`. The
public key is `SENDGRID_WEBHOOK_PUBLIC_KEY`, base64 DER as SendGrid shows it. A post is a
JSON array of events; those we act on:
- `bounce`: `type` "bounce" is hard, "blocked" (the receiving server refused this time) soft;
- `dropped`: SendGrid did not send, because of its own lists: "Bounced Address" and
  "Invalid" are hard, "Spam Reporting Address" and "Unsubscribed Address" complaints (the
  reader said so at SendGrid), any other reason soft;
- `spamreport`: a complaint.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from engage.config import Settings, sendgrid_public_key
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
)

SOURCE = "sendgrid"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

DROPPED_HARD = ("bounced address", "invalid")
DROPPED_COMPLAINT = ("spam reporting address", "unsubscribed address")


def configured(settings: Settings) -> bool:
    return bool(settings.sendgrid_webhook_public_key)


def _verify(post: Post) -> str:
    signature = post.headers.get(SIGNATURE_HEADER, "").strip()
    stamp = post.headers.get(TIMESTAMP_HEADER, "").strip()
    if not signature or not stamp:
        raise Refused(
            401,
            f"This post is not signed: it needs the headers {SIGNATURE_HEADER} and "
            f"{TIMESTAMP_HEADER} (turn on the Signed Event Webhook at SendGrid).",
            code="unauthorized",
        )
    key = sendgrid_public_key(post.settings.sendgrid_webhook_public_key)
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, stamp.encode() + post.body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        raise Refused(403, "The SendGrid signature does not match this post.") from None
    return stamp


def _kind(event: dict) -> str | None:
    what = event.get("event")
    if what == "spamreport":
        return "complaint"
    if what == "bounce":
        return "soft" if event.get("type") == "blocked" else "hard"
    if what == "dropped":
        reason = str(event.get("reason") or "").strip().lower()
        if reason.startswith(DROPPED_HARD):
            return "hard"
        if reason.startswith(DROPPED_COMPLAINT):
            return "complaint"
        return "soft"
    return None


def receive(post: Post) -> list[BounceReport]:
    """The bounces, drops and spam reports in one SendGrid post; other events are skipped.

    Raises Refused for an unsigned, badly signed or stale post, or one that is not an array
    of events.
    """
    stamp = _verify(post)
    check_fresh(timestamp(stamp, TIMESTAMP_HEADER), post)
    events = load_json(post.body)
    if not isinstance(events, list):
        raise bad_shape("The body must be a JSON array of SendGrid events.")
    reports = []
    for index, event in enumerate(events):
        where = f"body.{index}"
        if not isinstance(event, dict):
            raise bad_shape(f"`{where}` must be a JSON object (a SendGrid event).")
        kind = _kind(event)
        if kind is None:
            continue
        recipient = field(event, "email", str, where)
        event_id = field(event, "sg_event_id", str, where)
        diagnostic = clean(event.get("reason") or event.get("response"), 1000)
        reports.append(
            BounceReport(
                kind=kind,
                recipient=clean(recipient, 320),
                token=None,  # SendGrid's return path is its own
                status=clean(event.get("status"), 16) or status_in(diagnostic),
                diagnostic=diagnostic,
                source=SOURCE,
                event_id=clean(event_id, 200),
                occurred_at=occurred(event.get("timestamp"), f"{where}.timestamp", post),
            )
        )
    return reports
