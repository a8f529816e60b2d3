"""`flask users create` and `flask api-keys create`."""

from __future__ import annotations

import sys

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
def create_api_key(role: str, name: str) -> None:
    """Create an API key; it is printed once, on the last line, and stored only as a hash."""
    try:
        _, secret = service.create_api_key(db.session, name, role)
    except service.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Created {role} key {name!r}. Store it now; it is not shown again:")
    click.echo(secret)
