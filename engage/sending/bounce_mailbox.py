"""The bounce mailbox: fetch what came back to BOUNCE_ADDRESS over IMAP or POP3, apply it,
then delete it (or, on IMAP, move it to BOUNCE_MAILBOX_MOVE_TO).

`BOUNCE_MAILBOX_URL` is `imaps://user:pass@host[:port]/INBOX`, `imap://…` (plain; add
`?starttls=1` to upgrade), `pop3s://…` or `pop3://…` (also `?starttls=1`). Each message is
applied and committed before it is removed, so a crash in between only means reading it again,
which the duplicate rules make harmless. A message that is no bounce, or that cannot be read,
is removed too: it must not block the mailbox. A database that cannot be reached stops the
poll with the message left in place, to be read next time.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import poplib
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from engage.sending.bounce_mail import MAX_MESSAGE_BYTES, parse_message
from engage.sending.bounces import apply

log = logging.getLogger(__name__)

TIMEOUT = 30.0  # seconds for connecting and for each answer
POLL_LIMIT = 200  # messages per poll; the rest wait for the next one
_TRUTHY = {"1", "true", "yes", "on"}


class MailboxError(RuntimeError):
    """The mailbox could not be reached or refused us; the poll is tried again next time."""


@dataclass(frozen=True)
class Mailbox:
    """Where the bounce mailbox is, from BOUNCE_MAILBOX_URL."""

    protocol: str  # "imap" or "pop3"
    host: str
    port: int
    username: str
    password: str
    folder: str = "INBOX"
    tls: bool = False  # TLS from the first byte (imaps, pop3s)
    starttls: bool = False

    @classmethod
    def from_url(cls, url: str) -> Mailbox:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("imap", "imaps", "pop3", "pop3s") or not parts.hostname:
            raise MailboxError("BOUNCE_MAILBOX_URL must look like imaps://user:pass@host/INBOX")
        protocol = scheme.rstrip("s")
        tls = scheme.endswith("s")
        defaults = {("imap", False): 143, ("imap", True): 993, ("pop3", False): 110}
        return cls(
            protocol=protocol,
            host=parts.hostname,
            port=parts.port or defaults.get((protocol, tls), 995),
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.strip("/")) or "INBOX",
            tls=tls,
            starttls=parse_qs(parts.query).get("starttls", ["0"])[0].lower() in _TRUTHY,
        )


@dataclass
class PollResult:
    fetched: int = 0
    reports: int = 0  # bounce reports found
    applied: int = 0  # of which changed something (the rest were duplicates or nobody)
    unreadable: int = 0  # messages whose reports could not be applied; removed anyway


def poll(
    session: Session,
    url: str,
    *,
    move_to: str = "",
    limit: int = POLL_LIMIT,
    bounce_address: str | None = None,
    key: str | None = None,
) -> PollResult:
    """Read up to `limit` messages from the mailbox at `url`, apply each and remove it.
    Commits after each message.

    Raises MailboxError when the mailbox cannot be reached or refuses the login (nothing is
    lost: the messages stay for the next poll), and DBAPIError when the database is down
    (the message being read stays too).
    """
    mailbox = Mailbox.from_url(url)
    result = PollResult()

    def handle(raw: bytes) -> None:
        result.fetched += 1
        reports = parse_message(raw, bounce_address=bounce_address, key=key)
        result.reports += len(reports)
        try:
            for report in reports:
                if apply(session, report) is not None:
                    result.applied += 1
            session.commit()
        except DBAPIError:
            session.rollback()
            raise  # the database is down: keep the message for the next poll
        except Exception:  # noqa: BLE001 (one bad message must not block the mailbox)
            session.rollback()
            result.unreadable += 1
            log.exception("bounce mailbox: a message could not be applied; removed")

    try:
        if mailbox.protocol == "imap":
            _poll_imap(mailbox, handle, move_to, limit)
        else:
            _poll_pop3(mailbox, handle, limit)
    except (OSError, imaplib.IMAP4.error, poplib.error_proto) as exc:
        raise MailboxError(f"{mailbox.protocol}://{mailbox.host}:{mailbox.port}: {exc}") from exc
    return result


def _context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _poll_imap(mailbox: Mailbox, handle: Callable[[bytes], None], move_to: str, limit: int):
    if mailbox.tls:
        conn = imaplib.IMAP4_SSL(
            mailbox.host, mailbox.port, ssl_context=_context(), timeout=TIMEOUT
        )
    else:
        conn = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=TIMEOUT)
    try:
        if mailbox.starttls:
            conn.starttls(ssl_context=_context())
        conn.login(mailbox.username, mailbox.password)
        status, _ = conn.select(_quoted(mailbox.folder))
        if status != "OK":
            raise MailboxError(f"no folder {mailbox.folder!r} in the bounce mailbox")
        if move_to:
            conn.create(_quoted(move_to))  # "already exists" is a NO, and fine
        status, data = conn.uid("SEARCH", None, "ALL")
        uids = (data[0] or b"").split()[:limit] if status == "OK" else []
        # What the server offers after login (imaplib keeps only the greeting's list).
        status, data = conn.capability()
        can_move = status == "OK" and b"MOVE" in (data[0] or b"").upper().split()
        removed = 0
        try:
            for uid in uids:
                raw = _fetch_imap(conn, uid)
                if raw is not None:
                    handle(raw)
                if move_to and can_move:
                    conn.uid("MOVE", uid, _quoted(move_to))
                    continue
                if move_to:
                    conn.uid("COPY", uid, _quoted(move_to))
                conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
                removed += 1
        finally:
            if removed:
                conn.expunge()
        conn.logout()
    finally:
        with contextlib.suppress(OSError):
            conn.shutdown()


def _fetch_imap(conn: imaplib.IMAP4, uid: bytes) -> bytes | None:
    # At most MAX_MESSAGE_BYTES of it: the parser reads no further anyway.
    status, data = conn.uid("FETCH", uid, f"(BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>)")
    if status != "OK":
        return None
    for item in data or []:
        if isinstance(item, tuple) and len(item) == 2:
            return item[1]
    return None


def _quoted(folder: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9._/-]+", folder):
        return folder
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _poll_pop3(mailbox: Mailbox, handle: Callable[[bytes], None], limit: int):
    if mailbox.tls:
        conn = poplib.POP3_SSL(mailbox.host, mailbox.port, context=_context(), timeout=TIMEOUT)
    else:
        conn = poplib.POP3(mailbox.host, mailbox.port, timeout=TIMEOUT)
    try:
        if mailbox.starttls:
            conn.stls(context=_context())
        conn.user(mailbox.username)
        conn.pass_(mailbox.password)
        sizes = {}
        for line in conn.list()[1]:
            number, _, size = line.decode("ascii", "replace").partition(" ")
            if number.isdigit():
                sizes[int(number)] = int(size) if size.strip().isdigit() else 0
        failure = None
        for number in sorted(sizes)[:limit]:
            if sizes[number] > MAX_MESSAGE_BYTES:
                # The headers and the first lines: the report parts come first.
                lines = conn.top(number, 20000)[1]
            else:
                lines = conn.retr(number)[1]
            try:
                handle(b"\r\n".join(lines))
            except DBAPIError as exc:
                failure = exc  # keep this one; the ones before it are deleted at QUIT
                break
            conn.dele(number)
        conn.quit()  # POP3 deletes only now
        if failure is not None:
            raise failure
    finally:
        with contextlib.suppress(OSError):
            conn.close()
