"""`flask --app engage bounces …`: bounce reports that reach us by mail."""

from __future__ import annotations

import logging
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import DBAPIError

from engage.extensions import db
from engage.sending import bounce_mailbox
from engage.sending.bounce_mail import MAX_MESSAGE_BYTES, parse_message
from engage.sending.bounces import apply

log = logging.getLogger(__name__)

bounces_cli = AppGroup("bounces", help="Bounces and complaints that come back by mail.")

EX_TEMPFAIL = 75  # sysexits.h: a mail server (Postfix, procmail) tries the message again


@bounces_cli.command("ingest")
@click.option(
    "--recipient",
    default=None,
    help="The address the message was delivered to (Postfix: ${original_recipient}).",
)
def ingest(recipient: str | None) -> None:
    """Read one message from standard input and apply the bounce or complaint in it.

    Exits 0 also when the message is no bounce, so the mail server does not try it again
    forever; 75 (temporary failure: try again later) only when the database cannot be
    reached.
    """
    stream = sys.stdin.buffer
    raw = stream.read(MAX_MESSAGE_BYTES + 1)
    if len(raw) > MAX_MESSAGE_BYTES:
        # Read the rest so the writer is not cut off mid-pipe; the parser reads the start.
        while stream.read(1 << 20):
            pass
    reports = parse_message(raw, envelope_recipient=recipient)
    applied = 0
    try:
        for report in reports:
            if apply(db.session, report) is not None:
                applied += 1
        db.session.commit()
    except DBAPIError as exc:
        db.session.rollback()
        click.echo(f"bounces ingest: the database cannot be reached ({exc.orig})", err=True)
        sys.exit(EX_TEMPFAIL)
    if not reports:
        click.echo("No bounce or complaint in this message; nothing to do.")
    else:
        click.echo(f"{len(reports)} report(s) read, {applied} recorded.")


@bounces_cli.command("poll")
def poll() -> None:
    """Read the bounce mailbox (BOUNCE_MAILBOX_URL) once, as the beat task does."""
    settings = current_app.config["ENGAGE"]
    if not settings.bounce_mailbox_url:
        raise click.ClickException("BOUNCE_MAILBOX_URL is not set.")
    try:
        result = bounce_mailbox.poll(
            db.session, settings.bounce_mailbox_url, move_to=settings.bounce_mailbox_move_to
        )
    except bounce_mailbox.MailboxError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{result.fetched} message(s) read, {result.reports} report(s), {result.applied} recorded."
    )
