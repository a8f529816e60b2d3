"""Send email: now (in a worker) or, through the outbox, once the current transaction commits."""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parseaddr

from flask import current_app

from engage.config import SmtpSettings
from engage.extensions import db
from engage.mail.errors import MailNotConfigured
from engage.mail.message import build_message, message_id_domain
from engage.mail.render import render_email, require_email
from engage.mail.signing import signer_from_settings
from engage.mail.sink import DEFAULT_PORT
from engage.mail.transport import SmtpTransport, send_with_retry
from engage.sending import outbox, verp

DEV_SINK_PORT = DEFAULT_PORT  # where `make run` starts the development SMTP sink


def smtp_settings() -> SmtpSettings:
    """The SMTP server to use: SMTP_URL, or in development the local sink.

    Raises MailNotConfigured outside development when SMTP_URL is not set.
    """
    settings = current_app.config["ENGAGE"]
    if settings.smtp is not None:
        return settings.smtp
    if settings.env == "development":
        return SmtpSettings(host="127.0.0.1", port=DEV_SINK_PORT, timeout=10.0)
    raise MailNotConfigured("SMTP_URL is not set: Engage has no mail server to send through")


def transport() -> SmtpTransport:
    """A transport for the configured server, signing with DKIM when it is configured; use it
    as a context manager for a batch. Every kind of mail goes out through one of these."""
    return SmtpTransport(smtp_settings(), signer=signer_from_settings(current_app.config["ENGAGE"]))


# Transactional mail says it was sent by a program in answer to something (RFC 3834), so
# auto-responders stay quiet; newsletters and digests are list mail and do not carry it.
TRANSACTIONAL_HEADERS = {"Auto-Submitted": "auto-generated"}


def send_transactional(
    name: str,
    to: str,
    context: Mapping[str, object],
    headers: Mapping[str, str] | None = None,
    outbox_id: int | None = None,
) -> str:
    """Render email `name` for `to` and send it now; returns the server's reply.

    `headers` adds headers such as `message.bulk_headers(...)` for mail a subscriber gets
    as a list member. `outbox_id` (the outbox row the message belongs to) makes the envelope
    sender its VERP address when BOUNCE_ADDRESS is set.

    A few quick retries cover a dropped connection or a 4xx; then TemporaryFailure is raised
    (the Celery task retries later). PermanentFailure (5xx) is raised at once.
    """
    settings = current_app.config["ENGAGE"]
    rendered = render_email(name, context)
    msg = build_message(
        rendered,
        to,
        sender=settings.mail_from,
        headers={**TRANSACTIONAL_HEADERS, **(headers or {})},
        domain=message_id_domain(settings.mail_from, settings.base_url),
        envelope_sender=verp.envelope_sender(
            settings, verp.OUTBOX, outbox_id, parseaddr(settings.mail_from)[1]
        ),
    )
    with transport() as smtp:
        return send_with_retry(
            smtp,
            msg,
            attempts=int(current_app.config.get("MAIL_SEND_ATTEMPTS", 3)),
            backoff=float(current_app.config.get("MAIL_RETRY_BACKOFF", 0.25)),
        )


def queue_email(
    name: str,
    to: str,
    context: Mapping[str, object],
    headers: Mapping[str, str] | None = None,
) -> None:
    """Send email `name` to `to` from a worker once the current transaction commits.

    Written to the outbox in the current transaction: nothing is sent if it rolls back, and
    a worker retries temporary failures for hours (`outbox_retry_hours`). `context` must be
    JSON values. Raises UnknownEmail now, not in the worker, for a name with no templates.
    """
    require_email(name)
    outbox.add(
        db.session(),
        outbox.SEND_EMAIL_TASK,
        [name, to, dict(context)],
        {"headers": dict(headers)} if headers else {},
        email=name,
        recipient=to,
    )
