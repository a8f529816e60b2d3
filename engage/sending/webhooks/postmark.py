"""Postmark bounce and spam-complaint webhooks.

Postmark signs nothing: the webhook URL you give it carries HTTP Basic credentials
(`https://user:password@…/webhooks/bounces/postmark`), set here as
`POSTMARK_WEBHOOK_AUTH=user:password` and compared in constant time.

Bounce types (Postmark's documented `Type`), and what each becomes:
- hard: HardBounce, BadEmailAddress, ManuallyDeactivated (Postmark will not deliver there);
- soft: Transient, SoftBounce, DnsError, Unknown, Blocked, DMARCPolicy, SpamNotification and
  VirusNotification (the receiving server refused this message's content, not the reader's
  address);
- complaint: SpamComplaint (the reader marked the message as spam) and Unsubscribe (the
  reader asked the receiving system to be removed);
- nothing: Subscribe, AutoResponder, AddressChange, OpenRelayTest, ChallengeVerification,
  Unconfirmed, InboundError, SMTPApiError, TemplateRenderingFailed (about the sending, not the
  reader, or not a failure at all).
"""

from __future__ import annotations

import base64
import binascii
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
    timestamp,
)

SOURCE = "postmark"
REALM = 'Basic realm="bounces", charset="UTF-8"'

KINDS = {
    "HardBounce": "hard",
    "BadEmailAddress": "hard",
    "ManuallyDeactivated": "hard",
    "Transient": "soft",
    "SoftBounce": "soft",
    "DnsError": "soft",
    "Unknown": "soft",
    "Blocked": "soft",
    "DMARCPolicy": "soft",
    "SpamNotification": "soft",
    "VirusNotification": "soft",
    "SpamComplaint": "complaint",
    "Unsubscribe": "complaint",
}


def configured(settings: Settings) -> bool:
    return bool(settings.postmark_webhook_auth)


def _authenticate(post: Post) -> None:
    scheme, _, encoded = post.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise Refused(
            401,
            "Send the credentials of POSTMARK_WEBHOOK_AUTH with HTTP Basic authentication "
            "(put them in the webhook URL at Postmark).",
            code="unauthorized",
            headers={"WWW-Authenticate": REALM},
        )
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        given = b""
    if not hmac.compare_digest(given, post.settings.postmark_webhook_auth.encode()):
        raise Refused(403, "These credentials do not match POSTMARK_WEBHOOK_AUTH.")


def receive(post: Post) -> list[BounceReport]:
    """The bounce or complaint in one Postmark post (none for a type we do not act on).

    Raises Refused without the right credentials, for a stale event or a body that is not a
    Postmark event.
    """
    _authenticate(post)
    event = load_json(post.body)
    if not isinstance(event, dict):
        raise bad_shape("The body must be a JSON object (a Postmark webhook event).")
    record = field(event, "RecordType", str, "body")
    if record not in ("Bounce", "SpamComplaint"):
        return []
    bounced_at = timestamp(field(event, "BouncedAt", str, "body"), "BouncedAt")
    check_fresh(bounced_at, post)
    kind = "complaint" if record == "SpamComplaint" else KINDS.get(event.get("Type"))
    if kind is None:
        return []
    event_id = field(event, "ID", (int, str), "body")
    recipient = field(event, "Email", str, "body")
    diagnostic = clean(event.get("Details") or event.get("Description"), 1000)
    return [
        BounceReport(
            kind=kind,
            recipient=clean(recipient, 320),
            token=None,  # Postmark's own return path carries no VERP token of ours
            status=status_in(diagnostic),
            diagnostic=diagnostic,
            source=SOURCE,
            event_id=clean(event_id, 200),
            occurred_at=min(bounced_at, post.now),
        )
    ]
