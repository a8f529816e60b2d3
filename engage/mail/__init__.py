"""Email: rendering (MJML + Jinja), MIME messages, the SMTP transport, and sending.

Other code calls `engage.mail.service.queue_email(name, to, context)` with a context from a
function in `engage.mail.emails`; the worker task `engage.send_email` sends it.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from engage.addresses import InvalidAddress, normalise_email
from engage.extensions import db
from engage.mail import emails
from engage.mail.message import redact_logs
from engage.mail.service import queue_email
from engage.mail.views import bp

mail_cli = AppGroup("mail", help="Send and check email.")


@mail_cli.command("send-test")
@click.argument("to")
def send_test(to: str) -> None:
    """Queue the test email to TO (a worker sends it)."""
    try:
        address = normalise_email(to)
    except InvalidAddress as exc:
        raise click.ClickException(exc.detail) from None
    queue_email("test_message", address, emails.test_message(address))
    db.session.commit()
    click.echo(f"Test email queued for {address}.")


def init_app(app: Flask) -> None:
    # What servers say back names recipients: mask addresses before anything is logged.
    redact_logs()
    app.register_blueprint(bp)
    app.cli.add_command(mail_cli)
