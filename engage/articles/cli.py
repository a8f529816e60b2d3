"""`flask --app engage demo load`: fill a development database with demo content."""

from __future__ import annotations

import os

import click
from flask import current_app
from flask.cli import AppGroup

from engage import demo
from engage.extensions import db

demo_cli = AppGroup("demo", help="Demo content for development.")


@demo_cli.command("load")
def load() -> None:
    """Load demo articles, topics, groups, events and staff logins. Safe to run again."""
    if current_app.config["ENGAGE"].env == "production":
        raise click.ClickException(
            "Refusing to load demo content: ENGAGE_ENV is production. Demo accounts have a "
            "published password and must never exist on a live site."
        )
    password = os.environ.get("ENGAGE_DEMO_PASSWORD") or demo.DEFAULT_PASSWORD
    try:
        report = demo.load(db.session, password=password)
    except ValueError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(
        f"Demo content ready: {report.articles} articles, {report.topics} topics, "
        f"{report.groups} support groups, {report.events} upcoming events."
    )
    click.echo("Demo logins (development only):")
    for login in report.logins:
        note = (
            ""
            if login.password_matches
            else "  (already existed with another password; left as it is)"
        )
        click.echo(f"  {login.role:<10} {login.email:<24} {password}{note}")
