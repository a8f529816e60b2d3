"""Bounces that come back by mail: delivery status notifications (RFC 3464) and abuse reports
(ARF, RFC 5965), read into `BounceReport`s for `engage.sending.bounces.apply`.

- A DSN's `message/delivery-status` part says, per recipient, what happened: `Action: failed`
  with a 5.x.x status is "hard" (apply keeps it hard only when the status is about the
  address), with a 4.x.x status (the server gave up after retrying) "soft". `Action: delayed`
  is ignored: the sending server is still trying, and if it gives up a `failed` notice
  follows, which is the one that counts. Counting delays too would count one message's
  trouble twice, and most delays are about the servers on the way, not the reader.
- Bounces in no standard form (old Exim, qmail, vendor formats) are recognised by
  flufl.bounce's detectors; only their permanent failures count, for the same reason.
- An ARF report with `Feedback-Type: abuse` is a complaint about the original recipient.
  Other feedback types (`not-spam`, `auth-failure`, `virus`) say nothing about the reader.
- Auto-replies (out of office, vacation) are no bounce and are ignored.

The row a report is about comes from our VERP address (engage/sending/verp.py): the address
the report was delivered to, or the original message's Return-Path. A VERP address whose check
fails is a forgery, and the whole message is ignored: without it anyone could unsubscribe a
reader by mailing us a made-up bounce naming their address.
"""

from __future__ import annotations

import logging
import re
from email import message_from_bytes, message_from_string
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parseaddr

import flufl.bounce
from flask import current_app

from engage.sending.bounces import BounceReport, status_in
from engage.sending.verp import VerpToken
from engage.sending.verp import parse as parse_verp

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 2 * 1024 * 1024  # the report parts come first; the rest is the original
MAX_REPORTS = 50  # recipients read from one notice: we send one recipient per message
MAX_TEXT = 64 * 1024  # of a body searched for a status code
_TOKEN_SHAPE = re.compile(r"^[do][0-9]+\.[a-z2-7]+$")
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?reply|autoreply|vacation|"
    r"abwesenheitsnotiz|absence|réponse automatique)",
    re.IGNORECASE,
)


class ForgedToken(ValueError):
    """A message names one of our VERP addresses with a check that fails."""


def parse_message(
    raw: bytes,
    *,
    envelope_recipient: str | None = None,
    bounce_address: str | None = None,
    key: str | None = None,
) -> list[BounceReport]:
    """The bounce reports one received message holds; empty for anything else (a reply, an
    auto-reply, spam, garbage). Never raises: a message it cannot read is logged and empty.

    `envelope_recipient`: the address the message was delivered to, when the mail server
    says (`${original_recipient}` in a Postfix pipe). `bounce_address` and `key` default to
    the app's BOUNCE_ADDRESS and address-hash key.
    """
    if bounce_address is None or key is None:
        settings = current_app.config["ENGAGE"]
        bounce_address = settings.bounce_address if bounce_address is None else bounce_address
        key = settings.hash_key if key is None else key
    try:
        if not isinstance(raw, bytes | bytearray):
            raise TypeError(f"a message is bytes, not {type(raw).__name__}")
        if len(raw) > MAX_MESSAGE_BYTES:
            log.info(
                "bounce message of %d bytes: reading the first %d", len(raw), MAX_MESSAGE_BYTES
            )
            raw = bytes(raw[:MAX_MESSAGE_BYTES])
        message = message_from_bytes(bytes(raw), policy=compat32)
        if not message.keys():
            log.info("bounce message: a message without headers; ignored")
            return []
        return _Reader(message, envelope_recipient, bounce_address or None, key).reports()
    except ForgedToken as exc:
        log.warning("bounce message: %s; ignored", exc)
        return []
    except Exception:  # noqa: BLE001 (hostile input: a report we cannot read is no report)
        log.warning("bounce message: a message that could not be read; ignored", exc_info=True)
        return []


def _text(value) -> str:
    """A header's value as one line (folded lines unfolded)."""
    return " ".join(str(value or "").split())


def _addresses(values) -> list[str]:
    return [address for _name, address in getaddresses([_text(v) for v in values]) if address]


def _typed_value(value: str) -> str:
    """`rfc822; someone@example.org` → `someone@example.org`."""
    _type, _, rest = _text(value).partition(";")
    return parseaddr(rest.strip() if rest else _type)[1]


def _header_blocks(part: Message) -> list[Message]:
    """The header blocks of a `message/delivery-status` or `message/feedback-report` part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    if isinstance(payload, str):
        return [message_from_string(chunk) for chunk in re.split(r"\r?\n\r?\n", payload) if chunk]
    return []


def _original(message: Message) -> Message | None:
    """The headers of the message that bounced, when the report encloses them."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
        elif kind == "text/rfc822-headers":
            text = part.get_payload(decode=True) or b""
            return message_from_bytes(text[:MAX_TEXT], policy=compat32)
    return None


class _Reader:
    def __init__(
        self, message: Message, envelope: str | None, bounce_address: str | None, key: str
    ):
        self.message = message
        self.envelope = envelope
        self.bounce_address = bounce_address
        self.key = key
        self.original = _original(message)
        self.event_id = _text(message.get("Message-ID")).strip("<>")[:180] or None

    # --- which row: our VERP address -------------------------------------------------------

    def _ours(self, address: str) -> bool:
        """Whether `address` has the shape of one of our VERP addresses."""
        local, _, domain = address.lower().rpartition("@")
        base, plus, token = local.partition("+")
        if not plus or not _TOKEN_SHAPE.match(token):
            return False
        if self.bounce_address:
            want_local, _, want_domain = self.bounce_address.lower().rpartition("@")
            return base == want_local and domain == want_domain
        return True

    def token(self, extra: list[str] = ()) -> VerpToken | None:
        """The row our VERP address names; ForgedToken when one fails its check."""
        candidates = []
        if self.envelope:
            candidates.append(self.envelope)
        for name in ("Delivered-To", "X-Original-To", "To", "Envelope-To"):
            candidates += _addresses(self.message.get_all(name, []))
        candidates += list(extra)
        if self.original is not None:
            candidates += _addresses(self.original.get_all("Return-Path", []))
        for candidate in candidates:
            address = parseaddr(candidate)[1] or candidate
            if not self._ours(address):
                continue
            token = parse_verp(address, self.key, self.bounce_address)
            if token is None:
                raise ForgedToken(f"a VERP address whose check fails ({address.split('@')[0]})")
            return token
        return None

    # --- what kind of message ----------------------------------------------------------------

    def report_type(self) -> str:
        if self.message.get_content_type() != "multipart/report":
            return ""
        return _text(self.message.get_param("report-type", "")).lower()

    def auto_reply(self) -> bool:
        auto = _text(self.message.get("Auto-Submitted")).lower()
        precedence = _text(self.message.get("Precedence")).lower()
        return (
            auto.startswith("auto-replied")
            or precedence == "auto_reply"
            or self.message.get("X-Autoreply") is not None
            or self.message.get("X-Autorespond") is not None
            or bool(_AUTO_REPLY_SUBJECT.match(_text(self.message.get("Subject"))))
        )

    def reports(self) -> list[BounceReport]:
        kind = self.report_type()
        if kind == "feedback-report":
            return self.complaint()
        if kind == "delivery-status" or any(
            part.get_content_type() == "message/delivery-status" for part in self.message.walk()
        ):
            found = self.delivery_status()
            if found is not None:
                return found
        # Bounces carry "Auto-Submitted: auto-replied" too: a mailer daemon's message is read
        # as a bounce, anything else automatic as the auto-reply it is.
        if not self.from_mailer_daemon() and self.auto_reply():
            log.info("bounce message: an auto-reply; ignored")
            return []
        return self.heuristic()

    def from_mailer_daemon(self) -> bool:
        if self.message.get("X-Failed-Recipients") is not None:
            return True
        sender = parseaddr(_text(self.message.get("From")))[1].lower()
        return sender.partition("@")[0] in ("mailer-daemon", "postmaster", "mail-daemon")

    # --- RFC 3464 ------------------------------------------------------------------------------

    def delivery_status(self) -> list[BounceReport] | None:
        """Reports from the delivery-status parts; None when there is no such part to read."""
        blocks: list[Message] = []
        for part in self.message.walk():
            if part.get_content_type() == "message/delivery-status":
                # The first block is about the message, the others one per recipient.
                blocks += _header_blocks(part)[1:]
        if not blocks:
            return None
        token = self.token()
        reports = []
        for block in blocks[:MAX_REPORTS]:
            action = _text(block.get("Action")).lower()
            status = status_in(_text(block.get("Status")))
            diagnostic = _text(block.get("Diagnostic-Code"))
            if not action.startswith(("failed", "fail", "error")):
                continue  # delayed, delivered, relayed, expanded: nothing to count
            recipient = _typed_value(block.get("Original-Recipient") or "") or _typed_value(
                block.get("Final-Recipient") or ""
            )
            status = status or status_in(diagnostic)
            reports.append(
                BounceReport(
                    kind="soft" if status.startswith("4") else "hard",
                    recipient=recipient or None,
                    token=token,
                    status=status,
                    diagnostic=diagnostic,
                    source="dsn",
                    event_id=self._event_id(len(reports)),
                )
            )
        return reports

    def _event_id(self, index: int) -> str | None:
        if self.event_id is None:
            return None
        return self.event_id if index == 0 else f"{self.event_id}/{index}"

    # --- bounces in no standard form --------------------------------------------------------

    def heuristic(self) -> list[BounceReport]:
        temporary, permanent = flufl.bounce.all_failures(self.message)
        if not permanent:
            return []  # nothing, or only delay warnings (see the module's docstring)
        body = self._body_text()
        status = status_in(body)
        diagnostic = ""
        match = re.search(r"^.*\b[45][0-9][0-9][ -][245]\.\d+\.\d+.*$", body, re.MULTILINE)
        if match:
            diagnostic = match.group().strip()
        token = self.token()
        return [
            BounceReport(
                kind="hard",
                recipient=address.decode("ascii", "replace"),
                token=token,
                status=status,
                diagnostic=diagnostic,
                source="dsn",
                event_id=self._event_id(index),
            )
            for index, address in enumerate(sorted(permanent)[:MAX_REPORTS])
        ]

    def _body_text(self) -> str:
        for part in self.message.walk():
            if part.get_content_type() == "text/plain":
                data = part.get_payload(decode=True) or b""
                return data[:MAX_TEXT].decode(part.get_content_charset() or "ascii", "replace")
        return ""

    # --- RFC 5965 ------------------------------------------------------------------------------

    def complaint(self) -> list[BounceReport]:
        fields = None
        for part in self.message.walk():
            if part.get_content_type() == "message/feedback-report":
                blocks = _header_blocks(part)
                fields = blocks[0] if blocks else None
                break
        if fields is None:
            return []
        feedback = _text(fields.get("Feedback-Type")).lower()
        if feedback != "abuse":
            log.info("bounce message: a feedback report of type %r; ignored", feedback[:40])
            return []
        recipients = _addresses(fields.get_all("Original-Rcpt-To", []))
        if not recipients and self.original is not None:
            recipients = _addresses(self.original.get_all("To", []))
        token = self.token(_addresses(fields.get_all("Original-Mail-From", [])))
        return [
            BounceReport(
                kind="complaint",
                recipient=recipients[0] if recipients else None,
                token=token,
                diagnostic=f"feedback report: {feedback}",
                source="arf",
                event_id=self.event_id,
            )
        ]
