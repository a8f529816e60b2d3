"""Sessions end on the server: signing out, a new password or deactivation end every session
of that user, so a copied session cookie opens nothing afterwards.

The test's app context outlives its requests (and with it `g` and the database session), so
each request here first forgets what the previous one left there: Flask-Login's cached user,
Flask-WTF's token and loaded rows. In production every request starts that way.
"""

from __future__ import annotations

import pytest
from flask import g

from engage.accounts import service
from engage.accounts.models import User
from engage.extensions import db as _db
from tests.accounts.conftest import PASSWORD
from tests.conftest import csrf_token

QUEUE = "/admin/comments/"


@pytest.fixture
def editor(app, db):
    with app.app_context():
        user = service.create_user(_db.session, "editor@example.org", PASSWORD, "editor")
        _db.session.commit()
        return user.id


def change(app, editor_id: int, act) -> None:
    """`act(user)` in an app context of its own, committed."""
    with app.app_context():
        act(_db.session.get(User, editor_id))
        _db.session.commit()


def as_a_new_request() -> None:
    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    _db.session.expire_all()


def sign_in(client, email="editor@example.org", password=PASSWORD):
    as_a_new_request()
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302
    assert client.get(QUEUE).status_code == 200


def copied_cookie(app, client):
    """Another browser holding a copy of `client`'s session cookie (stolen, or synced)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def is_signed_out(client) -> bool:
    as_a_new_request()
    response = client.get(QUEUE)
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_session_cookie_copied_before_sign_out_opens_nothing_after(app, client, editor):
    sign_in(client)
    thief = copied_cookie(app, client)
    as_a_new_request()
    assert thief.get(QUEUE).status_code == 200  # the copy works while the session lasts

    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert response.status_code == 302
    assert is_signed_out(client)
    assert is_signed_out(thief)


def test_signing_out_ends_the_sessions_on_other_devices_too(app, client, editor):
    sign_in(client)
    laptop = app.test_client()
    sign_in(laptop)
    as_a_new_request()
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert is_signed_out(laptop)
    sign_in(laptop)  # signing in again works


def test_a_new_password_ends_every_session(app, client, editor):
    sign_in(client)
    thief = copied_cookie(app, client)
    change(app, editor, lambda user: service.set_password(_db.session, user, "a new password!"))
    assert is_signed_out(client) and is_signed_out(thief)
    with pytest.raises(service.AccountError):
        change(app, editor, lambda user: service.set_password(_db.session, user, "short"))


def test_the_cli_sets_a_password_and_deactivates(app, client, editor):
    sign_in(client)
    thief = copied_cookie(app, client)
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "set-password", "editor@example.org"], input="another long password\n"
    )
    assert result.exit_code == 0, result.output
    assert is_signed_out(thief)
    sign_in(client, password="another long password")

    result = runner.invoke(args=["users", "deactivate", "editor@example.org"])
    assert result.exit_code == 0, result.output
    assert is_signed_out(client)
    result = runner.invoke(args=["users", "activate", "editor@example.org"])
    assert result.exit_code == 0, result.output
    assert is_signed_out(client)  # an old session stays ended after reactivation
    sign_in(client, password="another long password")


def test_deactivation_ends_every_session(app, client, editor):
    sign_in(client)
    thief = copied_cookie(app, client)
    change(app, editor, lambda user: service.set_active(_db.session, user, False))
    assert is_signed_out(client) and is_signed_out(thief)


def test_a_session_names_the_user_and_its_current_key(app, client, editor):
    sign_in(client)
    with client.session_transaction() as session:
        user_id, _, key = session["_user_id"].partition(".")
    with app.app_context():
        assert user_id == str(editor) and key == _db.session.get(User, editor).session_key
    # A session holding only the id (as before session keys) opens nothing.
    with client.session_transaction() as session:
        session["_user_id"] = user_id
    assert is_signed_out(client)
