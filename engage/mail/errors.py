"""What can go wrong when handing a message to the SMTP server.

Only `PermanentFailure` speaks about the recipient (a 5xx reply to MAIL, RCPT or DATA: a hard
bounce). Everything about our own set-up or the network (refused connections, timeouts, dropped
connections, a failed STARTTLS or login, 4xx replies) is a `TemporaryFailure`, retried with
backoff, so a misconfigured relay never turns a whole list into hard bounces.
"""

from __future__ import annotations


class MailError(Exception):
    """Base class for mail delivery errors."""


class MailNotConfigured(MailError):
    """No SMTP server is configured for this environment."""


class DeliveryFailure(MailError):
    """The server did not accept a message. `code` is the SMTP reply code, or None."""

    def __init__(self, message: str, code: int | None = None, text: str = "", recipients=()):
        super().__init__(message)
        self.code = code
        self.text = text
        self.recipients = tuple(recipients)


class TemporaryFailure(DeliveryFailure):
    """Try again later: a 4xx reply, a dropped or refused connection, a timeout."""


class PermanentFailure(DeliveryFailure):
    """A 5xx reply to the message or its recipients: final, never retried."""
