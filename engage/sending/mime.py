"""A newsletter's message bytes, built once per send and completed per recipient.

`engage.mail.message.build_message` builds a full `EmailMessage` per call, and the email
package's MIME machinery then costs milliseconds per message, more than the SMTP exchange
itself. A send repeats the same structure for every reader, so `MessageTemplate` builds the
fixed parts once (From, Subject, the part headers, encoded by the email package exactly as
`build_message` would) and per recipient only fills the placeholders (`personalise`),
quoted-printable-encodes the two bodies (C code in `binascii`) and joins the bytes.

Anything unusual (a non-ASCII address, a header value with non-ASCII characters that has no
cached encoding) falls back to `build_message` + `serialise`, the reference implementation the
tests compare with. The bytes are not signed here: the transport signs whatever it sends
(engage/mail/signing.py).
"""

from __future__ import annotations

import binascii
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from engage.mail.message import (
    BUILD_POLICY,
    WIRE_POLICY,
    ascii_domain,
    build_message,
    envelope,
    is_international,
    serialise,
)
from engage.mail.render import Rendered, personalise

CRLF = b"\r\n"


@dataclass(frozen=True)
class Outgoing:
    """One message ready for SMTP: envelope and wire bytes."""

    sender: str
    recipient: str
    raw: bytes
    international: bool = False


def _qp(text: str) -> bytes:
    """Quoted-printable body with CRLF line ends and lines of at most 76 characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"  # as EmailMessage.set_content does
    data = text.encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False).replace(b"\n", CRLF)


def _has_line_break(value: str) -> bool:
    return "\r" in value or "\n" in value


class MessageTemplate:
    """`build(to, values, headers)` → Outgoing for one recipient of one newsletter.

    `rendered` holds placeholders (`%%UNSUBSCRIBE_URL%%`…) that `values` fills; `headers` are
    the per-recipient extra headers (`list_headers(subscriber)`). Raises ValueError for a line
    break in a header or an unfilled placeholder, like build_message.
    """

    def __init__(
        self,
        rendered: Rendered,
        *,
        sender: str,
        domain: str,
    ):
        self.rendered = rendered
        self.sender = sender
        self.domain = domain
        self.envelope_sender = parseaddr(sender)[1]
        probe = EmailMessage(policy=BUILD_POLICY)
        probe["From"] = sender
        probe["Subject"] = rendered.subject
        self._fixed = probe.as_bytes(policy=WIRE_POLICY).split(CRLF + CRLF, 1)[0] + CRLF
        self._encoded_headers: dict[tuple[str, str], bytes] = {}
        self._date_second = -1
        self._date = b""

    def _header(self, name: str, value: str) -> bytes:
        if value.isascii() and name.isascii():
            return f"{name}: {value}".encode("ascii") + CRLF
        key = (name, value)
        line = self._encoded_headers.get(key)
        if line is None:
            probe = EmailMessage(policy=BUILD_POLICY)
            probe[name] = value
            line = probe.as_bytes(policy=WIRE_POLICY).split(CRLF + CRLF, 1)[0] + CRLF
            if len(self._encoded_headers) < 64:  # the List-Id, mostly: one value per send
                self._encoded_headers[key] = line
        return line

    def _date_header(self) -> bytes:
        second = int(time.time())
        if second != self._date_second:
            self._date = format_datetime(datetime.fromtimestamp(second, UTC)).encode("ascii")
            self._date_second = second
        return b"Date: " + self._date + CRLF

    def build(self, to: str, values: Mapping[str, str], headers: Mapping[str, str]) -> Outgoing:
        personal = personalise(self.rendered, values)
        recipient = ascii_domain(to)
        if not recipient.isascii() or _has_line_break(recipient) or "@" not in recipient:
            return self._reference(personal, to, headers)
        for name, value in headers.items():
            if _has_line_break(name) or _has_line_break(value):
                raise ValueError(f"header {name} contains a line break (header injection refused)")
        boundary = ("=_" + secrets.token_hex(12)).encode("ascii")
        message_id = f"<{time.time_ns()}.{secrets.token_hex(6)}@{self.domain}>"
        head = [
            self._fixed,
            b"To: " + recipient.encode("ascii") + CRLF,
            self._date_header(),
            b"Message-ID: " + message_id.encode("ascii") + CRLF,
            b"MIME-Version: 1.0" + CRLF,
        ]
        head.extend(self._header(name, value) for name, value in headers.items())
        head.append(b'Content-Type: multipart/alternative; boundary="' + boundary + b'"' + CRLF)
        part = b"Content-Transfer-Encoding: quoted-printable" + CRLF + CRLF
        raw = b"".join(
            [
                *head,
                CRLF,
                b"--" + boundary + CRLF,
                b'Content-Type: text/plain; charset="utf-8"' + CRLF,
                part,
                _qp(personal.text),
                CRLF,
                b"--" + boundary + CRLF,
                b'Content-Type: text/html; charset="utf-8"' + CRLF,
                part,
                _qp(personal.html),
                CRLF,
                b"--" + boundary + b"--" + CRLF,
            ]
        )
        return Outgoing(self.envelope_sender, recipient, raw)

    def _reference(self, personal: Rendered, to: str, headers: Mapping[str, str]) -> Outgoing:
        msg = build_message(personal, to, sender=self.sender, headers=headers, domain=self.domain)
        raw = serialise(msg)
        _, [recipient] = envelope(msg)  # the address given, never the To header read back
        return Outgoing(self.envelope_sender, recipient, raw, is_international(msg))
