"""NUL (U+0000) is refused where a request comes in, never passed on to the database.

PostgreSQL's text columns cannot hold NUL, so a NUL that reached a query was a 500 for anyone,
signed in or not. Paths answer 404, query strings and form fields 400 (the site's error page),
and under /api/ the API's error shape: a 404 for a path, a 422 naming the field for a query
parameter or a JSON field. Each case runs on both backends (the suite's two passes).
"""

from __future__ import annotations

import pytest

from engage.accounts.service import create_api_key
from tests.conftest import csrf_token

NUL_PATHS = [
    "/articles/%00",
    "/groups/%00",
    "/events/%00",
    "/events/%00.ics",
    "/u/%00",
    "/replies/u/%00",
    "/confirm/%00",
    "/preferences/%00",
    "/community/confirm/%00",
    "/community/edit/%00",
    "/replies/notifications/%00",
    "/moderate/approve/%00",
    "/newsletters/%00",
    "/no-such-page/%00",
]

NUL_QUERIES = [
    "/groups?region=%00",
    "/events?region=%00",
    "/groups?language=a%00b",
    "/events?purpose=%00",
    "/?page=%00",
    "/groups?%00=x",
]


def _page(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def api_key(ctx, db):
    _, secret = create_api_key(db.session, "nul tests", "admin")
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize("url", NUL_PATHS)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_nul_in_the_path_is_not_found(client, url, method):
    response = client.open(url, method=method)
    assert response.status_code == 404
    assert "There is no page at this address." in _page(response)
    assert "Need help now?" in _page(response)  # the site's normal page, crisis footer and all


@pytest.mark.parametrize("url", NUL_QUERIES)
def test_a_nul_in_the_query_string_is_a_bad_request(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert "could not be understood" in _page(response)


def test_a_nul_in_a_form_field_is_a_bad_request_and_saves_nothing(client, db):
    from sqlalchemy import func, select

    from engage.community.models import SupportGroup

    token = csrf_token(client, "/groups/submit")
    response = client.post(
        "/groups/submit",
        data={
            "csrf_token": token,
            "name": "Circle",
            "purposes": ["anxiety"],
            "format": "in_person",
            "region": "North\x00West",
            "contact": "circle@example.org",
            "organiser_email": "organiser@example.org",
        },
    )
    assert response.status_code == 400
    assert "could not be understood" in _page(response)
    with client.application.app_context():
        assert db.session.scalar(select(func.count()).select_from(SupportGroup)) == 0


@pytest.mark.parametrize(
    ("url", "field"),
    [("/subscribe", "email"), ("/login", "email"), ("/subscribe", "topics")],
)
def test_a_nul_in_any_form_field_is_refused(client, url, field):
    data = {"csrf_token": csrf_token(client, url), "email": "reader@example.org", "password": "x"}
    data[field] = "a\x00b@example.org"
    response = client.post(url, data=data)
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "reader\x00@example.org"}, "email"),
        ({"email": "reader@example.org", "topics": ["news", "a\x00"]}, "topics"),
        ({"email": "reader@example.org", "source": "\x00"}, "source"),
        ({"email": "reader@example.org", "\x00": "x"}, "body"),
    ],
)
def test_the_embed_form_names_the_json_field_with_a_nul(client, body, field):
    response = client.post("/embed/subscribe", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/articles/%00",
        "/api/v1/subscribers/%00",
        "/api/v1/groups/1%00",
        "/api/v1/%00",
    ],
)
def test_an_api_path_with_a_nul_is_a_json_404(client, api_key, url):
    response = client.get(url, headers=api_key)
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/groups?region=%00", "region"),
        ("/api/v1/events?language=x%00", "language"),
        ("/api/v1/subscribers?topic=%00", "topic"),
        ("/api/v1/subscribers?email=a%00@example.org", "email"),
        ("/api/v1/comments?status=%00", "status"),
    ],
)
def test_an_api_query_parameter_with_a_nul_is_a_422_naming_it(client, api_key, url, field):
    response = client.get(url, headers=api_key)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]


GROUP = {
    "name": "Circle",
    "purposes": ["anxiety"],
    "format": "online",
    "region": "North West England",
    "contact": "circle@example.org",
}


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("POST", "/api/v1/groups", {**GROUP, "region": "North\x00West"}, "region"),
        ("POST", "/api/v1/groups", {**GROUP, "purposes": ["\x00"]}, "purposes.0"),
        (
            "POST",
            "/api/v1/subscribers",
            {"subscribers": [{"email": "a\x00@example.org"}]},
            "subscribers.0.email",
        ),
        (
            "POST",
            "/api/v1/subscribers",
            {"subscribers": [{"email": "a@example.org", "topics": ["x\x00"]}]},
            "subscribers.0.topics.0",
        ),
        ("POST", "/api/v1/newsletters", {"subject": "Hi\x00", "topics": []}, "subject"),
        (
            "POST",
            "/api/v1/comments/bulk",
            {"ids": [1], "action": "reject", "reason": "\x00"},
            "reason",
        ),
        ("PATCH", "/api/v1/subscribers/1", {"topics": ["\x00"]}, "topics.0"),
        ("PATCH", "/api/v1/groups/1", {"city": "\x00"}, "city"),
        ("POST", "/api/v1/events", {"title": "T\x00", "starts_at": "x", "ends_at": "y"}, "title"),
    ],
)
def test_a_nul_in_an_api_body_is_a_422_naming_the_field(client, api_key, method, url, body, field):
    response = client.open(url, method=method, json=body, headers=api_key)
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert "NUL" in error["fields"][field]


def test_a_nul_in_a_json_key_is_refused(client, api_key):
    response = client.post("/api/v1/groups", json={**GROUP, "\x00": "x"}, headers=api_key)
    assert response.status_code == 422
