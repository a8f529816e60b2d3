"""`flask --app engage stats …`: the daily aggregate behind the dashboard."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from engage.extensions import db
from engage.stats import rollup

stats_cli = AppGroup("stats", help="The daily statistics the staff dashboard shows.")


@stats_cli.command("rebuild")
def rebuild() -> None:
    """Recompute every day's figures from the subscriber and bounce rows (a backfill).

    Safe to run at any time; the scheduler keeps today and yesterday up to date after it.
    """
    days = rollup.rebuild(db.session)
    db.session.commit()
    click.echo(f"Recomputed {days} day{'s' if days != 1 else ''} of statistics.")
