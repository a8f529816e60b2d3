"""`flask users create` and `flask api-keys create|list|revoke`."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from flask.cli import AppGroup

from engage.accounts import service
from engage.accounts.models import ROLES
from engage.extensions import db

users_cli = AppGroup("users", help="Manage staff accounts.")
api_keys_cli = AppGroup("api-keys", help="Manage API keys.")


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", default="", help="Display name.")
def create_user(email: str, role: str, name: str) -> None:
    """Create a staff user; the password is prompted, or read from stdin if it is not a tty."""
    password = _read_password()
    try:
        user = service.create_user(db.session, email, password, role, name)
    except service.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Created {user.role} {user.email}")


def _user(email: str):
    user = service.find_user(db.session, email)
    if user is None:
        raise click.ClickException(f"there is no user {email}")
    return user


@users_cli.command("set-password")
@click.argument("email")
def set_password(email: str) -> None:
    """Set a new password (prompted, or read from stdin); every session of the user ends."""
    user = _user(email)
    try:
        service.set_password(db.session, user, _read_password())
    except service.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"New password set for {user.email}; their sessions have ended.")


@users_cli.command("deactivate")
@click.argument("email")
def deactivate(email: str) -> None:
    """Stop a user signing in; every session of theirs ends at once."""
    user = _user(email)
    service.set_active(db.session, user, False)
    db.session.commit()
    click.echo(f"Deactivated {user.email}; their sessions have ended.")


@users_cli.command("activate")
@click.argument("email")
def activate(email: str) -> None:
    """Let a deactivated user sign in again (their old sessions stay ended)."""
    user = _user(email)
    service.set_active(db.session, user, True)
    db.session.commit()
    click.echo(f"Activated {user.email}.")


@api_keys_cli.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", required=True)
@click.option(
    "--expires-in",
    "expires_in",
    metavar="DAYS",
    type=click.IntRange(1, service.MAX_KEY_DAYS),
    default=None,
    help=f"Days until the key stops working (1 to {service.MAX_KEY_DAYS}); default: never.",
)
def create_api_key(role: str, name: str, expires_in: int | None) -> None:
    """Create an API key; it is printed once, on the last line, and stored only as a hash."""
    try:
        key, secret = service.create_api_key(db.session, name, role, expires_in_days=expires_in)
    except service.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    until = f", expires {_when(key.expires_at)}" if key.expires_at else ""
    said = f"Created {role} key {key.name!r} (id {key.id}{until})."
    db.session.commit()  # said first: reading the key after the commit would load it again
    click.echo(said)
    click.echo("Store it now; it is not shown again:")
    click.echo(secret)


def _when(value: datetime | None, never: str = "-") -> str:
    return f"{value:%Y-%m-%d %H:%M}Z" if value else never


@api_keys_cli.command("list")
def list_api_keys() -> None:
    """List every key: id, name, role, created, last used, expires, revoked (never the key)."""
    rows = [("ID", "NAME", "ROLE", "CREATED", "LAST USED", "EXPIRES", "REVOKED")]
    for key in service.list_api_keys(db.session):
        rows.append(
            (
                str(key.id),
                key.name,
                key.role,
                _when(key.created_at),
                _when(key.last_used_at, "never"),
                _when(key.expires_at, "never"),
                _when(key.revoked_at),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


@api_keys_cli.command("revoke")
@click.argument("key_id", metavar="ID", type=click.IntRange(1, 2**31 - 1))
def revoke_api_key(key_id: int) -> None:
    """Revoke the key with this id (from `api-keys list`): it stops working at once."""
    try:
        key, changed = service.revoke_api_key(db.session, key_id)
    except service.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    if changed:
        said = f"Revoked key {key.id} ({key.name!r}); it no longer works."
    else:
        said = f"Key {key.id} ({key.name!r}) was already revoked on {_when(key.revoked_at)}."
    db.session.commit()
    click.echo(said)
