"""Hand messages to an SMTP server, one connection per batch.

    with SmtpTransport(settings) as transport:
        for msg in batch:
            reply = send_with_retry(transport, msg)

`send` raises TemporaryFailure (try again) or PermanentFailure (5xx, final); see errors.py.
With a signer (DKIM configured), the transport signs every message it sends, whatever made
it: transactional mail, newsletters, digests and test sends all pass through `send_raw`.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Protocol

from engage.config import SmtpSettings
from engage.mail.errors import PermanentFailure, TemporaryFailure
from engage.mail.message import envelope, is_international, mask_address, serialise
from engage.mail.signing import DkimSigner

log = logging.getLogger(__name__)


class Transport(Protocol):
    """What the mail service needs from a sender."""

    def send(self, msg: EmailMessage) -> str: ...

    def close(self) -> None: ...

    def __enter__(self) -> Transport: ...

    def __exit__(self, *exc_info) -> None: ...


def _text(resp: bytes | str) -> str:
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)


def failure(code: int, resp: bytes | str, recipients=()) -> TemporaryFailure | PermanentFailure:
    """The error for an SMTP reply: 5xx is permanent, anything else temporary."""
    text = _text(resp)
    kind = PermanentFailure if 500 <= code < 600 else TemporaryFailure
    return kind(f"SMTP server replied {code} {text}", code=code, text=text, recipients=recipients)


class SmtpTransport:
    """An SMTP client holding one connection, opened on first use and reopened after a drop.

    `ssl_context` defaults to the system's trusted certificates (SSL_CERT_FILE is honoured).
    Problems connecting, with STARTTLS or with the login are TemporaryFailure whatever the
    reply code: they are about our set-up, never about a recipient. With `signer`, every
    message is DKIM-signed on its way out.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        ssl_context: ssl.SSLContext | None = None,
        signer: DkimSigner | None = None,
    ):
        self.settings = settings
        self.ssl_context = ssl_context
        self.signer = signer
        self._smtp: smtplib.SMTP | None = None
        self.sent_on_connection = 0  # messages accepted since the connection was opened

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._smtp is not None

    def _context(self) -> ssl.SSLContext:
        if self.ssl_context is None:
            self.ssl_context = ssl.create_default_context()
        return self.ssl_context

    def connect(self) -> None:
        """Open the connection now (send does it when needed). Raises TemporaryFailure."""
        if self._smtp is not None:
            return
        s = self.settings
        smtp: smtplib.SMTP | None = None
        try:
            if s.ssl:
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            smtp.ehlo_or_helo_if_needed()
            if s.starttls:
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password or "")
        except smtplib.SMTPResponseException as exc:
            self._discard(smtp)
            raise TemporaryFailure(
                f"SMTP set-up with {s.host}:{s.port} failed: {exc.smtp_code} "
                f"{_text(exc.smtp_error)}",
                code=exc.smtp_code,
                text=_text(exc.smtp_error),
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, timeout, TLS, no AUTH…
            self._discard(smtp)
            raise TemporaryFailure(
                f"cannot connect to SMTP server {s.host}:{s.port}: {exc}"
            ) from exc
        self._smtp = smtp
        self.sent_on_connection = 0

    @staticmethod
    def _discard(smtp: smtplib.SMTP | None) -> None:
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def close(self) -> None:
        """Say QUIT politely if the connection is still up, and forget it."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            self._discard(smtp)

    def _reset(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        self._discard(smtp)

    def send(self, msg: EmailMessage) -> str:
        """Send one message; returns the server's reply to DATA, e.g. "250 2.0.0 Ok".

        Raises PermanentFailure for a 5xx reply (all recipients refused with 5xx counts too),
        TemporaryFailure for anything worth retrying. The connection stays open for the next
        message unless it dropped, in which case the next send reconnects.
        """
        sender, recipients = envelope(msg)
        return self.send_raw(
            sender, recipients, serialise(msg), international=is_international(msg)
        )

    def send_raw(
        self, sender: str, recipients: list[str], raw: bytes, *, international: bool = False
    ) -> str:
        """`send` for a message already serialised (bulk sends build their bytes once).

        `international`: an address needs SMTPUTF8. `raw` is signed here when the transport
        has a signer (so never pass signed bytes). Same replies and errors as `send`.
        """
        if self.signer is not None:
            raw = self.signer.sign(raw)
        self.connect()
        smtp = self._smtp
        assert smtp is not None
        try:
            options = []
            if smtp.does_esmtp and smtp.has_extn("size"):
                options.append(f"SIZE={len(raw)}")
            if international:
                if not smtp.has_extn("smtputf8"):
                    raise PermanentFailure(
                        "the SMTP server cannot deliver to addresses with non-ASCII characters "
                        "(no SMTPUTF8)",
                        code=553,
                        recipients=recipients,
                    )
                options += ["SMTPUTF8", "BODY=8BITMIME"]
            code, resp = smtp.mail(sender, options)
            if code != 250:
                raise failure(code, resp, recipients)
            refused: dict[str, tuple[int, str]] = {}
            for rcpt in recipients:
                code, resp = smtp.rcpt(rcpt)
                if code not in (250, 251):
                    refused[rcpt] = (code, _text(resp))
            if len(refused) == len(recipients):
                raise self._refused(refused)
            for rcpt, (code, text) in refused.items():
                log.warning("recipient %s refused: %s %s", mask_address(rcpt), code, text)
            code, resp = smtp.data(raw)
            if code != 250:
                raise failure(code, resp, recipients)
            self.sent_on_connection += 1
            return f"{code} {_text(resp)}"
        except (TemporaryFailure, PermanentFailure) as exc:
            if exc.code == 421:  # the server is closing the connection
                self._drop()
            else:
                self._reset()
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            self._reset()
            raise self._refused({r: (c, _text(t)) for r, (c, t) in exc.recipients.items()}) from exc
        except smtplib.SMTPResponseException as exc:  # e.g. DATA refused before the body
            self._reset()
            raise failure(exc.smtp_code, exc.smtp_error, recipients) from exc
        except (smtplib.SMTPException, OSError) as exc:  # dropped connection, timeout
            self._drop()
            raise TemporaryFailure(f"SMTP connection failed while sending: {exc}") from exc

    @staticmethod
    def _refused(refused: dict[str, tuple[int, str]]) -> TemporaryFailure | PermanentFailure:
        if len(refused) == 1:  # one recipient: its own reply, as for MAIL or DATA
            [(rcpt, (code, text))] = refused.items()
            return failure(code, text, [rcpt])
        # Final only when every refusal is final; one 4xx among them is worth another try.
        codes = [code for code, _ in refused.values()]
        detail = "; ".join(f"{r}: {c} {t}" for r, (c, t) in refused.items())
        kind = PermanentFailure if all(500 <= c < 600 for c in codes) else TemporaryFailure
        return kind(
            f"SMTP server refused the recipients ({detail})",
            code=codes[0] if codes else None,
            text=detail,
            recipients=list(refused),
        )


def send_with_retry(
    transport: Transport,
    msg: EmailMessage,
    attempts: int = 3,
    backoff: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """`transport.send(msg)`, retrying TemporaryFailure after backoff, 2×backoff, 4×backoff…

    PermanentFailure is raised at once; the last TemporaryFailure once `attempts` are spent.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(attempts):
        try:
            return transport.send(msg)
        except TemporaryFailure as exc:
            if attempt + 1 == attempts:
                raise
            delay = backoff * 2**attempt
            log.info("temporary mail failure (%s); retrying in %.2fs", exc, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
