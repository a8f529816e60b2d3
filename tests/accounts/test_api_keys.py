"""API keys: listed, revoked and expiring, from the command line and from the admin page.

A revoked or expired key is refused at once with the API's one error shape; the key itself is
shown once, when it is made, and never again (not in a list, not on a page).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from engage.accounts import service
from engage.accounts.models import ApiKey
from engage.api import ErrorResponse
from engage.extensions import db as _db
from engage.types import utcnow
from tests.accounts.conftest import PASSWORD
from tests.conftest import csrf_token


def _me(client, secret):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})


def assert_401(response, words: str) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = ErrorResponse.model_validate(response.get_json())
    assert body.error.code == "unauthorized"
    assert words in body.error.message
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


# --- the command line ------------------------------------------------------------------


def _cli(app, *args, input=None):
    return app.test_cli_runner().invoke(args=["api-keys", *args], input=input)


def _created_secret(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_list_shows_every_key_and_never_the_key(app, committed):
    first = _created_secret(_cli(app, "create", "--role", "editor", "--name", "import job"))
    second = _created_secret(
        _cli(app, "create", "--role", "moderator", "--name", "bot", "--expires-in", "30")
    )
    with app.app_context():
        bot = committed.session.scalar(select(ApiKey).where(ApiKey.name == "bot"))
        bot_id = bot.id
    assert _cli(app, "revoke", str(bot_id)).exit_code == 0
    listed = _cli(app, "list")
    assert listed.exit_code == 0, listed.output
    header, *lines = listed.output.strip().splitlines()
    for column in ("ID", "NAME", "ROLE", "CREATED", "LAST USED", "EXPIRES", "REVOKED"):
        assert column in header
    assert len(lines) == 2
    assert "import job" in lines[0] and "editor" in lines[0]
    assert lines[1].startswith(str(bot_id)) and "moderator" in lines[1]
    assert "never" in lines[0]  # not used yet
    expires = (utcnow() + timedelta(days=30)).strftime("%Y-%m-%d")
    assert expires in lines[1]
    revoked = utcnow().strftime("%Y-%m-%d")
    assert lines[1].count(revoked) >= 2  # created and revoked today
    for secret in (first, second):
        assert secret not in listed.output and secret[4:14] not in listed.output


def test_revoke_refuses_the_key_at_once(app, client, committed):
    secret = _created_secret(_cli(app, "create", "--role", "admin", "--name", "laptop"))
    assert _me(client, secret).status_code == 200
    with app.app_context():
        key_id = committed.session.scalar(select(ApiKey.id).where(ApiKey.name == "laptop"))
    result = _cli(app, "revoke", str(key_id))
    assert result.exit_code == 0, result.output
    assert "Revoked" in result.output and "laptop" in result.output
    assert_401(_me(client, secret), "revoked")
    again = _cli(app, "revoke", str(key_id))
    assert again.exit_code == 0 and "already revoked" in again.output


@pytest.mark.parametrize("key_id", ["999999", "abc", "0", str(2**40)])
def test_revoking_an_unknown_key_says_so(app, committed, key_id):
    result = _cli(app, "revoke", key_id)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "no API key" in result.output or "Invalid value" in result.output


def test_create_with_an_expiry_and_the_key_stops_working_after_it(app, client, committed):
    result = _cli(app, "create", "--role", "editor", "--name", "contractor", "--expires-in", "7")
    secret = _created_secret(result)
    assert "expires" in result.output
    with app.app_context():
        key = committed.session.scalar(select(ApiKey).where(ApiKey.name == "contractor"))
        assert timedelta(days=7) - (key.expires_at - key.created_at) < timedelta(seconds=5)
    assert _me(client, secret).status_code == 200
    with app.app_context():
        key = committed.session.scalar(select(ApiKey).where(ApiKey.name == "contractor"))
        key.expires_at = utcnow() - timedelta(seconds=1)
        committed.session.commit()
    assert_401(_me(client, secret), "expired")


@pytest.mark.parametrize("days", ["0", "-3", "99999", "soon"])
def test_a_bad_expiry_is_refused_with_a_message(app, committed, days):
    result = _cli(app, "create", "--role", "editor", "--name", "x", "--expires-in", days)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "expires-in" in result.output
    with app.app_context():
        assert committed.session.scalar(select(ApiKey.id)) is None


@pytest.mark.parametrize("name", ["x" * 121, "line\nbreak", "\x1b[31mred", "   "])
def test_a_bad_name_is_refused_with_a_message(app, committed, name):
    result = _cli(app, "create", "--role", "editor", "--name", name)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "name" in result.output


# --- last used, cheaply ----------------------------------------------------------------


def test_last_used_is_written_at_most_once_a_minute(app, client, db, ctx):
    key, secret = service.create_api_key(db.session, "busy script", "editor")
    db.session.commit()
    updates = []

    def note(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            updates.append(statement)

    event.listen(_db.engine, "before_cursor_execute", note)
    try:
        for _ in range(5):
            assert _me(client, secret).status_code == 200
    finally:
        event.remove(_db.engine, "before_cursor_execute", note)
    assert len(updates) == 1
    db.session.expire_all()
    first_use = db.session.get(ApiKey, key.id).last_used_at
    assert first_use is not None

    # Over a minute later the next request writes it again.
    db.session.get(ApiKey, key.id).last_used_at = first_use - timedelta(seconds=61)
    db.session.commit()
    _me(client, secret)
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).last_used_at > first_use - timedelta(seconds=1)


def test_a_failed_request_still_counts_as_a_use(client, db, ctx):
    key, secret = service.create_api_key(db.session, "moderation bot", "moderator")
    db.session.commit()
    response = client.get("/api/v1/subscribers", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).last_used_at is not None


# --- the admin page --------------------------------------------------------------------


@pytest.fixture
def admin(ctx, db):
    user = service.create_user(db.session, "admin@example.org", PASSWORD, "admin", "Ada")
    db.session.commit()
    return user


def _login(client, email):
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302


def test_only_admins_see_the_keys_page(client, db, editor):
    assert client.get("/admin/api-keys").status_code == 302  # sign in first
    _login(client, editor.email)
    assert client.get("/admin/api-keys").status_code == 403
    assert client.post("/admin/api-keys", data={}).status_code in (400, 403)


def test_admin_creates_a_key_and_sees_it_once(client, db, admin):
    _login(client, admin.email)
    page = client.get("/admin/api-keys")
    assert page.status_code == 200
    token = csrf_token(client, "/admin/api-keys")
    created = client.post(
        "/admin/api-keys",
        data={"csrf_token": token, "name": "newsletter sync", "role": "editor", "expires_in": "90"},
    )
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    html = created.get_data(as_text=True)
    [secret] = re.findall(r"eng_[A-Za-z0-9_\-]{40,}", html)
    assert _me(client, secret).get_json() == {"name": "newsletter sync", "role": "editor"}
    key = db.session.scalar(select(ApiKey).where(ApiKey.name == "newsletter sync"))
    assert key.created_by_id == admin.id and key.expires_at is not None
    later = client.get("/admin/api-keys").get_data(as_text=True)
    assert "newsletter sync" in later and secret not in later and secret[4:14] not in later
    assert "Set-Cookie" not in created.headers or secret not in created.headers["Set-Cookie"]


def test_a_bad_key_form_answers_with_a_message_and_makes_nothing(client, db, admin):
    _login(client, admin.email)
    token = csrf_token(client, "/admin/api-keys")
    for data in (
        {"name": "", "role": "editor"},
        {"name": "ok", "role": "owner"},
        {"name": "ok", "role": "editor", "expires_in": "0"},
        {"name": "ok", "role": "editor", "expires_in": "next week"},
        {"name": "x" * 500, "role": "editor"},
    ):
        response = client.post("/admin/api-keys", data={"csrf_token": token, **data})
        assert response.status_code == 400, data
        assert 'class="field-error"' in response.get_data(as_text=True), data
    assert db.session.scalar(select(ApiKey.id)) is None


def test_the_key_form_needs_its_csrf_token(client, db, admin):
    _login(client, admin.email)
    response = client.post("/admin/api-keys", data={"name": "x", "role": "editor"})
    assert response.status_code == 400
    assert db.session.scalar(select(ApiKey.id)) is None


def test_admin_revokes_after_confirming(client, db, admin):
    key, secret = service.create_api_key(db.session, "old laptop", "admin")
    db.session.commit()
    _login(client, admin.email)
    confirm_url = f"/admin/api-keys/{key.id}/revoke"
    confirm = client.get(confirm_url)
    assert confirm.status_code == 200 and "old laptop" in confirm.get_data(as_text=True)
    assert _me(client, secret).status_code == 200  # opening the page changes nothing
    token = csrf_token(client, confirm_url)
    assert client.post(confirm_url, data={}).status_code == 400  # no CSRF token
    assert _me(client, secret).status_code == 200
    done = client.post(confirm_url, data={"csrf_token": token})
    assert done.status_code == 303
    assert_401(_me(client, secret), "revoked")
    listed = client.get("/admin/api-keys").get_data(as_text=True)
    assert "old laptop" in listed and "Revoked" in listed
    assert client.get("/admin/api-keys/999999/revoke").status_code == 404
