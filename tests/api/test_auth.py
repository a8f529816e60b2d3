"""Bearer keys: 401 without a live key, 403 without the role, and the CLI that makes keys."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.accounts.models import ApiKey
from engage.accounts.service import create_api_key
from engage.api import ErrorResponse
from engage.types import utcnow


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = ErrorResponse.model_validate(response.get_json())
    assert body.error.code == code
    assert body.error.message
    return response.get_json()["error"]


def test_me_names_the_key_and_its_role(client, db, ctx):
    for role in ("admin", "editor", "moderator"):
        _, secret = create_api_key(db.session, f"{role} script", role)
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 200
        assert response.get_json() == {"name": f"{role} script", "role": role}


def test_the_scheme_is_case_insensitive(client, make_key):
    response = client.get("/api/v1/me", headers={"Authorization": f"bearer {make_key()}"})
    assert response.status_code == 200


def test_a_used_key_records_when(client, db, ctx):
    key, secret = create_api_key(db.session, "sync", "editor")
    assert key.last_used_at is None
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).last_used_at is not None


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Token eng_abc"],
    ids=["absent", "empty", "no-token", "blank-token", "basic", "other-scheme"],
)
def test_missing_key_is_401_with_a_bearer_challenge(client, header):
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/v1/me", headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="engage"'


@pytest.mark.parametrize("token", ["eng_not-a-real-key", "x" * 5000])
def test_unknown_key_is_401_invalid_token(client, token):
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 401, "unauthorized")
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge


def test_revoked_key_is_401(client, db, ctx):
    key, secret = create_api_key(db.session, "old", "admin")
    key.revoked_at = utcnow()
    db.session.flush()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("path", "needed", "allowed"),
    [
        ("/api/v1/_probe/moderation", "moderator", {"admin", "editor", "moderator"}),
        ("/api/v1/_probe/search", "any", {"admin", "editor", "moderator"}),
    ],
)
def test_roles_that_include_the_needed_one_pass(probe_client, auth, path, needed, allowed):
    for role in ("admin", "editor", "moderator"):
        response = probe_client.get(path, headers=auth(role))
        assert (response.status_code == 200) == (role in allowed), (role, response.status_code)


def test_editor_endpoints_refuse_moderators_with_403(probe_client, auth):
    body = {"name": "x", "count": 1}
    assert_error(
        probe_client.post("/api/v1/_probe/echo", json=body, headers=auth("moderator")),
        403,
        "forbidden",
    )
    for role in ("editor", "admin"):
        assert (
            probe_client.post("/api/v1/_probe/echo", json=body, headers=auth(role)).status_code
            == 201
        )


def test_admin_endpoints_refuse_editors_with_403(probe_client, auth):
    url = "/api/v1/_probe/items/7"
    error = assert_error(
        probe_client.put(url, json={"ok": True}, headers=auth("editor")), 403, "forbidden"
    )
    assert "admin" in error["message"]
    assert probe_client.put(url, json={"ok": True}, headers=auth("admin")).status_code == 204


def test_auth_is_checked_before_the_body(probe_client):
    # No key and a broken body: the answer is about the key, and reveals nothing else.
    response = probe_client.post("/api/v1/_probe/echo", data="{", content_type="application/json")
    assert_error(response, 401, "unauthorized")


def test_api_needs_no_csrf_token_and_sets_no_cookie(probe_client, auth):
    # The probe app runs with CSRF protection on, as production does.
    response = probe_client.post(
        "/api/v1/_probe/echo", json={"name": "x", "count": 1}, headers=auth("editor")
    )
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    assert "Authorization" in response.headers["Vary"]


def test_cli_key_works_on_the_api(app, client, db):
    result = app.test_cli_runner().invoke(
        args=["api-keys", "create", "--role", "moderator", "--name", "cli check"]
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert response.get_json() == {"name": "cli check", "role": "moderator"}
    with app.app_context():
        assert (
            db.session.scalar(select(ApiKey.role).where(ApiKey.name == "cli check")) == "moderator"
        )
