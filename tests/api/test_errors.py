"""One error shape under /api/, for every way a request can fail."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engage.accounts.models import ApiKey
from tests.api.conftest import PROBE_MAX_CONTENT_LENGTH
from tests.api.test_auth import assert_error

ECHO = "/api/v1/_probe/echo"


@pytest.fixture
def editor(auth):
    return auth("editor")


def test_unknown_route_under_the_api_is_json_404(client, auth):
    for path in ("/api/v1/nothing-here", "/api/v1/", "/api/v2/me"):
        assert_error(client.get(path, headers=auth()), 404, "not_found")


def test_unknown_article_is_404(client, auth):
    error = assert_error(
        client.get("/api/v1/articles/no-such-slug", headers=auth()), 404, "not_found"
    )
    assert "slug" in error["message"]


def test_wrong_method_is_405_with_allow(client, auth):
    response = client.post("/api/v1/me", json={}, headers=auth())
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}


def test_wrong_method_on_the_probe_lists_every_declared_method(probe_client, auth):
    response = probe_client.post("/api/v1/_probe/items/1", json={"ok": True}, headers=auth("admin"))
    assert_error(response, 405, "method_not_allowed")
    assert {"PUT", "DELETE"} <= set(response.headers["Allow"].replace(" ", "").split(","))


@pytest.mark.parametrize(
    "raw",
    ['{"name": "x",', "not json", "", "{'name': 'x'}", '{"count": NaN}', b"\xff\xfe{"],
    ids=["truncated", "text", "empty", "single-quotes", "nan", "bad-encoding"],
)
def test_malformed_json_is_400(probe_client, editor, raw):
    response = probe_client.post(ECHO, data=raw, content_type="application/json", headers=editor)
    error = assert_error(response, 400, "bad_request")
    assert "JSON" in error["message"]


@pytest.mark.parametrize("value", [[], [{"name": "x"}], "text", 3, None, True])
def test_json_that_is_not_an_object_is_400(probe_client, editor, value):
    response = probe_client.post(
        ECHO, data=json.dumps(value), content_type="application/json", headers=editor
    )
    error = assert_error(response, 400, "bad_request")
    assert "object" in error["message"]


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("name=x&count=1", "application/x-www-form-urlencoded"),
        ('{"name": "x", "count": 1}', "text/plain"),
        ('{"name": "x", "count": 1}', None),
    ],
    ids=["form", "text-plain", "no-content-type"],
)
def test_a_body_not_sent_as_json_is_415(probe_client, editor, data, content_type):
    response = probe_client.post(ECHO, data=data, content_type=content_type, headers=editor)
    assert_error(response, 415, "unsupported_media_type")


def test_json_with_a_charset_or_a_json_suffix_is_accepted(probe_client, editor):
    body = '{"name": "x", "count": 1}'
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = probe_client.post(ECHO, data=body, content_type=content_type, headers=editor)
        assert response.status_code == 201, content_type


def test_a_body_over_max_content_length_is_413(probe_client, probe_app, editor):
    assert probe_app.config["MAX_CONTENT_LENGTH"] == PROBE_MAX_CONTENT_LENGTH
    body = {"name": "x", "count": 1, "tags": ["y" * PROBE_MAX_CONTENT_LENGTH]}
    response = probe_client.post(ECHO, json=body, headers=editor)
    assert_error(response, 413, "payload_too_large")


def test_the_main_app_takes_max_content_length_from_its_settings(app):
    assert app.config["MAX_CONTENT_LENGTH"] == app.config["ENGAGE"].max_content_length


def test_invalid_fields_are_422_with_one_message_per_path(probe_client, editor):
    body = {"name": "", "count": "many", "tags": ["ok", 5], "when": "2024-05-01T10:00:00", "x": 1}
    error = assert_error(
        probe_client.post(ECHO, json=body, headers=editor), 422, "validation_error"
    )
    assert set(error["fields"]) == {"name", "count", "tags.1", "when", "x"}
    assert all(isinstance(message, str) and message for message in error["fields"].values())
    assert "timezone" in error["fields"]["when"]
    assert "many" not in json.dumps(error)  # messages never echo the input back


def test_missing_fields_are_422(probe_client, editor):
    error = assert_error(probe_client.post(ECHO, json={}, headers=editor), 422, "validation_error")
    assert error["fields"] == {"name": "Field required", "count": "Field required"}


def test_a_rule_across_fields_is_reported_on_body(probe_client, editor):
    body = {"name": "x", "count": 0, "tags": ["a"]}
    error = assert_error(
        probe_client.post(ECHO, json=body, headers=editor), 422, "validation_error"
    )
    assert list(error["fields"]) == ["body"]


def test_a_valid_body_reaches_the_view_parsed(probe_client, editor):
    body = {"name": "x", "count": 2, "tags": ["a", "b"], "when": "2024-05-01T12:00:00+02:00"}
    response = probe_client.post(ECHO, json=body, headers=editor)
    assert response.status_code == 201
    assert response.get_json() == {
        "name": "x",
        "count": 2,
        "tags": ["a", "b"],
        "when": "2024-05-01T10:00:00+00:00",
    }


def test_invalid_query_parameters_are_422(probe_client, auth):
    response = probe_client.get(
        "/api/v1/_probe/search?since=yesterday&flag=perhaps&per_page=0", headers=auth()
    )
    error = assert_error(response, 422, "validation_error")
    assert set(error["fields"]) == {"since", "flag", "per_page"}


def test_query_parameters_reach_the_view_parsed(probe_client, auth):
    response = probe_client.get(
        "/api/v1/_probe/search?tag=a&tag=b&since=2024-01-01T00:00:00Z&flag=true&page=3",
        headers=auth(),
    )
    assert response.status_code == 200
    assert response.get_json() == {
        "page": 3,
        "per_page": 50,
        "tag": ["a", "b"],
        "since": "2024-01-01T00:00:00+00:00",
        "flag": True,
    }


def test_too_many_requests_with_one_key_is_429(client, app, make_key, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    headers = {"Authorization": f"Bearer {make_key()}"}
    statuses = [client.get("/api/v1/me", headers=headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    response = client.get("/api/v1/me", headers=headers)
    assert_error(response, 429, "rate_limited")
    assert "Retry-After" in response.headers
    # The budget is per key: another key is unaffected, and so is the public document.
    other = {"Authorization": f"Bearer {make_key()}"}
    assert client.get("/api/v1/me", headers=other).status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_an_unexpected_exception_is_a_json_500_without_a_trace(probe_client):
    response = probe_client.get("/api/v1/_probe/boom")
    error = assert_error(response, 500, "internal_error")
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "RuntimeError", "secret internals", "app.py"):
        assert leak not in text
    assert error["fields"] == {}


def test_a_response_that_breaks_its_declared_model_is_a_500(probe_client):
    response = probe_client.get("/api/v1/_probe/wrong-response")
    assert_error(response, 500, "internal_error")
    assert "boolean" not in response.get_data(as_text=True)


def test_an_error_rolls_back_what_the_view_wrote(probe_client, auth, db, ctx):
    response = probe_client.post(
        "/api/v1/_probe/write-then-fail", json={"ok": True}, headers=auth("admin")
    )
    assert_error(response, 409, "conflict")
    assert db.session.scalar(select(ApiKey).where(ApiKey.name == "ghost")) is None


def test_success_commits_what_the_view_wrote(probe_client, auth, db, ctx):
    response = probe_client.post("/api/v1/_probe/write", json={"ok": True}, headers=auth("admin"))
    assert response.status_code == 201
    assert response.get_json() == {"ok": True}
    assert db.session.scalar(select(ApiKey).where(ApiKey.name == "kept")) is not None


def test_204_has_no_body(probe_client, auth):
    response = probe_client.delete(
        "/api/v1/_probe/items/3", json={"ok": True}, headers=auth("admin")
    )
    assert response.status_code == 204
    assert response.data == b""
