"""Amazon SES bounces and complaints, delivered by Amazon SNS to an HTTPS subscription.

SNS signs every message with a key whose certificate it names in `SigningCertURL`: signature
version 1 is SHA1withRSA, version 2 SHA256withRSA, over a canonical string of the message's
fields (`Key\\nValue\\n` in a fixed order that depends on the message type). The certificate is
fetched only from `https://sns.<region>.amazonaws.com/…` (TLS authenticates it) and kept under
the instance folder, so each one is fetched once. `TopicArn` must be one of
`SES_SNS_TOPIC_ARNS`. A `SubscriptionConfirmation` is confirmed by visiting its `SubscribeURL`,
only on an SNS host.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

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

log = logging.getLogger(__name__)

SOURCE = "ses"
#: `sns.<region>.amazonaws.com` (and the China partition's `.com.cn`), nothing else.
SNS_HOST = re.compile(r"^sns\.[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}\.amazonaws\.com(?:\.cn)?$")
CERTIFICATE_FOLDER = "sns-certificates"
FETCH_TIMEOUT = 10  # seconds
MAX_CERTIFICATE_BYTES = 64 * 1024

# The fields each message type signs, in the order SNS documents.
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
}  # fmt: skip
OPTIONAL_FIELDS = frozenset({"Subject"})
SIGNATURE_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}


def configured(settings: Settings) -> bool:
    return bool(settings.ses_sns_topic_arns)


def is_sns_url(url: Any, *, suffix: str | None = None) -> bool:
    """True for `https://sns.<region>.amazonaws.com/…` and nothing that merely looks like it:
    no user info, no port, no other host, and (with `suffix`) a path ending in it."""
    if not isinstance(url, str) or len(url) > 2048:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and parts.netloc == parts.hostname  # no user@, no :port, no upper case
        and bool(SNS_HOST.match(parts.netloc))
        and (suffix is None or parts.path.endswith(suffix))
    )


def certificate_path(instance_path: str, url: str) -> Path:
    """Where the certificate at `url` is kept once fetched (named by a hash of the URL)."""
    name = hashlib.sha256(url.encode()).hexdigest()[:40] + ".pem"
    return Path(instance_path) / CERTIFICATE_FOLDER / name


def _fetch(url: str, limit: int) -> bytes:
    # Only ever called with a URL is_sns_url accepted: https on an SNS host.
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:  # noqa: S310
        return response.read(limit + 1)


def _store(path: Path, pem: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as out:
            out.write(pem)
        os.replace(out.name, path)  # whole or not at all, even with two posts at once
    except OSError:
        log.warning("could not keep the SNS signing certificate in %s", path.parent)


def _certificate(post: Post, url: str) -> x509.Certificate:
    path = certificate_path(post.instance_path, url)
    if path.is_file():
        pem = path.read_bytes()
    else:
        try:
            pem = _fetch(url, MAX_CERTIFICATE_BYTES)
        except (OSError, urllib.error.URLError, ValueError):
            log.warning("could not fetch the SNS signing certificate %s", url)
            raise Refused(
                503, "Could not fetch the SNS signing certificate; try again later."
            ) from None
        if len(pem) > MAX_CERTIFICATE_BYTES:
            raise Refused(403, "The SNS signing certificate is too large.")
        _store(path, pem)
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        path.unlink(missing_ok=True)  # fetched again next time
        raise Refused(403, "The SNS signing certificate is not valid.") from None
    if not (certificate.not_valid_before_utc <= post.now <= certificate.not_valid_after_utc):
        raise Refused(403, "The SNS signing certificate has expired or is not yet valid.")
    return certificate


def canonical(message: dict[str, Any], kind: str) -> bytes:
    """The text SNS signs for a message of type `kind`."""
    lines = []
    for name in SIGNED_FIELDS[kind]:
        value = message.get(name)
        if value is None and name in OPTIONAL_FIELDS:
            continue
        if not isinstance(value, str):
            raise bad_shape(f"`{name}` is missing or not a string in this SNS message.")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode()


def _verify(post: Post, message: dict[str, Any], kind: str) -> None:
    version = message.get("SignatureVersion")
    signature = message.get("Signature")
    url = message.get("SigningCertURL")
    if not signature or not url or version is None:
        raise Refused(
            401,
            "This SNS message is not signed (no Signature, SignatureVersion or SigningCertURL).",
            code="unauthorized",
        )
    if version not in SIGNATURE_HASHES:
        raise Refused(403, "Only SNS SignatureVersion 1 and 2 are accepted.")
    if not is_sns_url(url, suffix=".pem"):
        raise Refused(
            403,
            "SigningCertURL must be an https URL on sns.<region>.amazonaws.com.",
        )
    try:
        raw_signature = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise Refused(403, "The SNS signature is not valid.") from None
    text = canonical(message, kind)
    key = _certificate(post, url).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Refused(403, "The SNS signing certificate does not hold an RSA key.")
    try:
        key.verify(raw_signature, text, padding.PKCS1v15(), SIGNATURE_HASHES[version]())
    except InvalidSignature:
        raise Refused(403, "The SNS signature does not match this message.") from None


def _confirm(url: Any) -> None:
    if not is_sns_url(url):
        raise Refused(
            400,
            "SubscribeURL must be an https URL on sns.<region>.amazonaws.com; not visited.",
            code="bad_request",
        )
    try:
        _fetch(url, 64 * 1024)
    except (OSError, urllib.error.URLError, ValueError):
        log.warning("could not confirm the SNS subscription at %s", urlsplit(url).netloc)
        raise Refused(503, "Could not confirm the subscription with SNS; try again.") from None
    log.info("SNS subscription confirmed")


def receive(post: Post) -> list[BounceReport]:
    """The bounces and complaints in one SNS post (none for a confirmation).

    Raises Refused for an unsigned, badly signed, stale or foreign message.
    """
    message = load_json(post.body)
    if not isinstance(message, dict):
        raise bad_shape("The body must be a JSON object (an SNS message).")
    kind = message.get("Type")
    if kind not in SIGNED_FIELDS:
        raise bad_shape(
            "`Type` must be Notification, SubscriptionConfirmation or UnsubscribeConfirmation."
        )
    if message.get("TopicArn") not in post.settings.ses_sns_topic_arns:
        raise Refused(403, "This SNS topic is not one of SES_SNS_TOPIC_ARNS.")
    _verify(post, message, kind)
    check_fresh(timestamp(message.get("Timestamp"), "Timestamp"), post)
    if kind == "SubscriptionConfirmation":
        _confirm(message.get("SubscribeURL"))
        return []
    if kind == "UnsubscribeConfirmation":
        return []
    try:
        event = load_json(message["Message"].encode())
    except Refused:
        event = None
    if not isinstance(event, dict):
        return []  # signed text on our topic (SES's "Successfully validated…"): no bounce
    return ses_reports(event, post, fallback_id=message.get("MessageId", ""))


def _token(mail: Any, settings: Settings):
    if not isinstance(mail, dict):
        return None
    token = verp_token(mail.get("source"), settings)
    headers = mail.get("headers")
    if token is None and isinstance(headers, list):
        for header in headers:
            if isinstance(header, dict) and str(header.get("name", "")).lower() == "return-path":
                token = verp_token(header.get("value"), settings)
                break
    return token


def ses_reports(event: dict[str, Any], post: Post, fallback_id: str) -> list[BounceReport]:
    """`BounceReport`s from an SES notification (`notificationType`) or event (`eventType`).

    Permanent bounces are hard; Transient and Undetermined ones soft (an unknown cause is no
    reason to stop writing to someone). Other notification types give none.
    """
    what = event.get("notificationType") or event.get("eventType")
    token = _token(event.get("mail"), post.settings)
    if what == "Bounce":
        part, listed = "bounce", "bouncedRecipients"
    elif what == "Complaint":
        part, listed = "complaint", "complainedRecipients"
    else:
        return []
    bounce = field(event, part, dict, "Message")
    if part == "complaint":
        kind = "complaint"
    else:
        kind = "hard" if bounce.get("bounceType") == "Permanent" else "soft"
    entries = field(bounce, listed, list, f"Message.{part}")
    feedback = clean(bounce.get("feedbackId") or fallback_id, 200)
    when = occurred(bounce.get("timestamp"), f"Message.{part}.timestamp", post)
    reports = []
    for index, entry in enumerate(entries):
        recipient = field(entry, "emailAddress", str, f"Message.{part}.{listed}.{index}")
        diagnostic = clean(
            entry.get("diagnosticCode") or bounce.get("complaintFeedbackType") or "", 1000
        )
        status = clean(entry.get("status"), 16) or status_in(diagnostic)
        reports.append(
            BounceReport(
                kind=kind,
                recipient=clean(recipient, 320),
                token=token,
                status=status,
                diagnostic=diagnostic,
                source=SOURCE,
                # One bounce may name several recipients; each is its own event.
                event_id=f"{feedback}#{index}",
                occurred_at=when,
            )
        )
    return reports
