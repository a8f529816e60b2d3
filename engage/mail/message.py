"""Build and serialise the MIME message for one recipient.

Messages are serialised with `WIRE_POLICY`: `policy.SMTP` without folding (under the default
policy Python folds, and may RFC 2047-encode, header lines over ~77 characters, and a
`List-Unsubscribe` that no longer starts with `<` is ignored by mail clients), except for
Subject, From and To, folded to 78-character lines and encoded words of at most 75.

The SMTP envelope is what decides who gets a message, so it is never read back from the
headers: `build_message` records the sender and the recipient it was given (the stored
address) on the message, and `envelope` returns them. Parsing the To header would decode RFC
2047 encoded words, and `=?utf-8?q?victim?=@example.org` would become `victim@example.org`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email import policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from urllib.parse import urlsplit

import idna

from engage.addresses import has_encoded_word
from engage.mail.render import Rendered

# Headers a reader sees and that may hold any text: folded to lines of at most 78 characters,
# their non-ASCII text in RFC 2047 encoded words of at most 75 (RFC 5322 §2.1.1, RFC 2047 §2).
FOLDED_HEADERS = frozenset(("subject", "from", "to"))
LINE_LENGTH = 78
# An encoded word on a continuation line is preceded by one space: 76 keeps it within 75.
ENCODED_LINE_LENGTH = 76


def _fold_text(name: str, value: str) -> str:
    """`Name: value` folded as the legacy `email.header.Header` does: whole values in encoded
    words (spaces included) when there is non-ASCII text, else folded at spaces.

    The new folder of Python 3.11 can drop the space between two encoded words on a fold,
    changing the text; the legacy one never does.
    """
    if value.isascii():
        folded = Header(value, "us-ascii", header_name=name, maxlinelen=LINE_LENGTH)
    else:
        folded = Header(value, "utf-8", header_name=name, maxlinelen=ENCODED_LINE_LENGTH)
    return f"{name}: {folded.encode(linesep=CRLF_TEXT)}{CRLF_TEXT}"


def _fold_addresses(name: str, header) -> str | None:
    """`Name: phrase <addr>` with a non-ASCII display name in encoded words, or None when
    the email package's own folding is fine (ASCII names, groups, several addresses)."""
    groups = getattr(header, "groups", ())
    if len(groups) != 1 or groups[0].display_name is not None or len(groups[0].addresses) != 1:
        return None
    [address] = groups[0].addresses
    if not address.display_name or address.display_name.isascii():
        return None
    phrase = Header(
        address.display_name, "utf-8", header_name=name, maxlinelen=ENCODED_LINE_LENGTH
    ).encode(linesep=CRLF_TEXT)
    angle = f"<{address.addr_spec}>"
    last = phrase.rsplit(CRLF_TEXT, 1)[-1]
    used = len(last) + (len(name) + 2 if last == phrase else 0)
    space = f"{CRLF_TEXT} " if used + 1 + len(angle) > LINE_LENGTH else " "
    return f"{name}: {phrase}{space}{angle}{CRLF_TEXT}"


class WirePolicy(EmailPolicy):
    """`policy.SMTP` that leaves header lines unfolded, except Subject, From, To (and the
    ASCII Content-Type, at its parameters).

    Unfolded, because under `policy.SMTP` the email package RFC 2047-encodes a long line, and
    a `List-Unsubscribe` that no longer starts with `<` is ignored by mail clients. Folded for
    Subject, From and To, because a long non-ASCII subject would otherwise be one encoded word
    of a thousand characters, which RFC 2047 forbids and spam filters hold against us. With
    `utf8` (RFC 6532) there are no encoded words: those three are folded at spaces.
    """

    def fold_binary(self, name, value):
        if name.lower() == "content-type":  # ASCII parameters: folds at "; " and nowhere else
            return EmailPolicy.fold_binary(self.clone(max_line_length=LINE_LENGTH), name, value)
        if name.lower() not in FOLDED_HEADERS:
            return super().fold_binary(name, value)
        if self.utf8:
            return EmailPolicy.fold_binary(self.clone(max_line_length=LINE_LENGTH), name, value)
        if name.lower() == "subject":
            text = _fold_text(name, str(value))
        else:
            text = _fold_addresses(name, value)
            if text is None:
                return EmailPolicy.fold_binary(self.clone(max_line_length=LINE_LENGTH), name, value)
        return text.encode("ascii")


CRLF_TEXT = "\r\n"
# Bodies are encoded with lines of at most 78 characters; on the wire every line ends in CRLF
# and header lines are folded only as WirePolicy says.
BUILD_POLICY = policy.default
WIRE_POLICY = WirePolicy(linesep=CRLF_TEXT, max_line_length=None)

# Headers a caller may not override: they identify the message and its parts.
_RESERVED = {"from", "to", "subject", "message-id", "date", "mime-version", "content-type"}


class OutgoingMessage(EmailMessage):
    """An EmailMessage that knows its SMTP envelope (set by `build_message`).

    `envelope_recipients` holds the address the message was built for, as the caller gave it
    (the stored address, its domain in IDNA form): the transport's RCPT TO, whatever the
    headers say.
    """

    envelope_sender: str = ""
    envelope_recipients: tuple[str, ...] = ()


def _refuse_newlines(name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} contains a line break (header injection refused)")


def message_id_domain(mail_from: str, base_url: str = "") -> str:
    """The domain for Message-IDs: the sender's, else the site's host name."""
    address = parseaddr(mail_from)[1]
    domain = address.rpartition("@")[2] if "@" in address else ""
    return domain or urlsplit(base_url).hostname or "localhost"


def mask_address(address: str) -> str:
    """`r•••@example.org`: enough to tell log lines apart, without readers' addresses."""
    local, _, domain = parseaddr(address)[1].rpartition("@")
    return f"{local[:1]}•••@{domain}" if local else "•••"


# An address inside free text (an SMTP reply, an exception message): a plain or quoted local
# part, `@`, a domain or an address literal. \w is Unicode-aware, so internationalised
# addresses are found too. The mask's "•" is not part of a local part, so redacting twice
# changes nothing.
_ADDRESS_IN_TEXT = re.compile(
    r"""(?P<local>"[^"\r\n]*"|[\w.!#$%&'*+/=?^`{|}~-]+)"""
    r"@(?P<domain>\[[^\]\s]*\]|[\w-]+(?:\.[\w-]+)*)"
)


def redact_addresses(text: str | None) -> str:
    """`text` with every email address in it masked as `mask_address` does:
    `550 5.1.1 <someone@example.org>` becomes `550 5.1.1 <s•••@example.org>`.

    For what a mail server or a library says back, before it is stored or logged.
    """
    if not text:
        return text or ""

    def mask(match: re.Match) -> str:
        local = match.group("local").strip('"')
        # Punctuation before the address (`{'alice@…` in a repr) stays as it was.
        lead = re.match(r"[^\w]*", local).group()
        return f"{lead}{local[len(lead) : len(lead) + 1]}•••@{match.group('domain')}"

    return _ADDRESS_IN_TEXT.sub(mask, text)


class RedactAddresses(logging.Filter):
    """A logging filter that masks addresses in the message and in its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 (a broken format string is logged as it is)
            return True
        record.msg, record.args = redact_addresses(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_addresses(record.exc_text)
        return True


# Loggers that pass on what mail servers and the send code say (which names recipients).
# A filter on a logger applies to what is logged through that logger itself, so each is named.
REDACTED_LOGGERS = (
    "engage.mail.transport",
    "engage.mail.service",
    "engage.sending.pipeline",
    "engage.sending.outbox",
    "engage.newsletters.sending",
    "engage.community.digests",
    "engage.community.digest_sending",
    "workers.tasks",
    "celery.app.trace",
)
_REDACT = RedactAddresses()


def redact_logs(names: tuple[str, ...] = REDACTED_LOGGERS) -> None:
    """Mask addresses in what the named loggers write. Idempotent."""
    for name in names:
        logging.getLogger(name).addFilter(_REDACT)


def bulk_headers(list_id: str, unsubscribe_url: str) -> dict[str, str]:
    """List headers (RFC 2919, RFC 2369, RFC 8058 one-click) for mail a subscriber gets in bulk."""
    return {
        "List-Id": list_id,
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def build_message(
    rendered: Rendered,
    to: str,
    *,
    sender: str,
    headers: Mapping[str, str] | None = None,
    domain: str | None = None,
    envelope_sender: str | None = None,
) -> OutgoingMessage:
    """A multipart/alternative message (text, then HTML) from `sender` to the one address `to`
    (`address` or `Name <address>`), which becomes the envelope recipient as given.

    `headers` adds extra headers (List-Id, List-Unsubscribe…). `envelope_sender` is the SMTP
    MAIL FROM (a VERP bounce address); it defaults to the sender's address, and never changes
    the From header. Raises ValueError for a line break in any header value or address, an
    address that does not parse, an address with RFC 2047 syntax (`=?`), or a To header that
    would name anyone else.
    """
    _refuse_newlines("From", sender)
    _refuse_newlines("To", to)
    _refuse_newlines("Subject", rendered.subject)
    _refuse_newlines("envelope sender", envelope_sender or "")
    for name, value in (headers or {}).items():
        _refuse_newlines(name, name)
        _refuse_newlines(name, value)
        if name.lower() in _RESERVED:
            raise ValueError(f"header {name} is set by build_message, not by the caller")
    for label, value in (("From", sender), ("To", to)):
        if "@" not in parseaddr(value)[1]:
            raise ValueError(f"{label} is not an email address: {value!r}")
    pairs = getaddresses([to])
    if len(pairs) != 1:
        raise ValueError(f"To must be one address, not {to!r}")
    [(name, address)] = pairs
    recipient = ascii_domain(address)
    if has_encoded_word(recipient):
        raise ValueError(f"To holds RFC 2047 syntax, which names another mailbox: {to!r}")

    msg = OutgoingMessage(policy=BUILD_POLICY)
    msg.envelope_sender = envelope_sender or parseaddr(sender)[1]
    msg.envelope_recipients = (recipient,)
    msg["From"] = sender
    msg["To"] = Address(display_name=name, addr_spec=recipient) if name else recipient
    # The header must show the reader the address the message is delivered to, and no other.
    shown = [a.addr_spec for a in msg["To"].addresses]
    if shown != [recipient]:
        raise ValueError(f"To would name {shown!r}, not the recipient {recipient!r}")
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=domain or message_id_domain(sender))
    msg["MIME-Version"] = "1.0"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    for part in msg.iter_parts():
        del part["MIME-Version"]  # add_alternative repeats it on the part; once is enough
    return msg


def ascii_domain(address: str) -> str:
    """`address` with an internationalised domain in its ASCII (IDNA) form.

    An ASCII local part at a Unicode domain then needs no SMTPUTF8 from the server; only a
    non-ASCII local part does.
    """
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError:
        return address


def is_international(msg: EmailMessage) -> bool:
    """Whether an address of the message needs SMTPUTF8 (a non-ASCII local part)."""
    sender, recipients = envelope(msg)
    return any(not address.isascii() for address in (sender, *recipients))


def serialise(msg: EmailMessage) -> bytes:
    """The bytes sent over SMTP (CRLF line ends, header lines never folded).

    A message to a non-ASCII address is written as UTF-8 (RFC 6532); the transport then asks
    the server for SMTPUTF8.
    """
    return msg.as_bytes(
        policy=WIRE_POLICY.clone(utf8=True) if is_international(msg) else WIRE_POLICY
    )


def envelope(msg: EmailMessage) -> tuple[str, list[str]]:
    """The envelope sender and recipients (addr-specs) `build_message` recorded on `msg`.

    Never read from the headers (see the module's docstring). Raises ValueError for a message
    that carries no envelope, i.e. one not made by `build_message`.
    """
    sender = getattr(msg, "envelope_sender", "")
    recipients = list(getattr(msg, "envelope_recipients", ()))
    if not sender or not recipients:
        raise ValueError("the message has no envelope recipient: build it with build_message")
    return sender, recipients
