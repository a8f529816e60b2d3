"""An SMTP transport that sends bytes already built (see mime.py), for bulk sends.

It is `engage.mail.transport.SmtpTransport` with one more method: the connection handling,
the reply classification (4xx/dropped → TemporaryFailure, 5xx → PermanentFailure) and the
reconnect after a drop are the same code.
"""

from __future__ import annotations

import smtplib

from engage.mail.errors import PermanentFailure, TemporaryFailure
from engage.mail.transport import SmtpTransport, _text, failure
from engage.newsletters.mime import Outgoing


class BulkSmtpTransport(SmtpTransport):
    """`send_outgoing(message)` → the server's reply; counts messages on this connection."""

    sent_on_connection = 0

    def connect(self) -> None:
        if self._smtp is None:
            self.sent_on_connection = 0
        super().connect()

    def send_outgoing(self, message: Outgoing) -> str:
        """Send one prepared message. Raises TemporaryFailure or PermanentFailure."""
        self.connect()
        smtp = self._smtp
        assert smtp is not None
        recipients = [message.recipient]
        try:
            options = []
            if smtp.does_esmtp and smtp.has_extn("size"):
                options.append(f"SIZE={len(message.raw)}")
            if message.international:
                if not smtp.has_extn("smtputf8"):
                    raise PermanentFailure(
                        "the SMTP server cannot deliver to addresses with non-ASCII characters "
                        "(no SMTPUTF8)",
                        code=553,
                        recipients=recipients,
                    )
                options += ["SMTPUTF8", "BODY=8BITMIME"]
            code, resp = smtp.mail(message.sender, options)
            if code != 250:
                raise failure(code, resp, recipients)
            code, resp = smtp.rcpt(message.recipient)
            if code not in (250, 251):
                raise failure(code, resp, recipients)
            code, resp = smtp.data(message.raw)
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
        except smtplib.SMTPResponseException as exc:
            self._reset()
            raise failure(exc.smtp_code, exc.smtp_error, recipients) from exc
        except (smtplib.SMTPException, OSError) as exc:  # dropped connection, timeout
            self._drop()
            raise TemporaryFailure(f"SMTP connection failed while sending: {exc}") from exc
