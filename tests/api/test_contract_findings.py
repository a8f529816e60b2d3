"""What the contract test (test_contract.py) found, pinned as plain tests that say it directly."""

from __future__ import annotations

import pytest

from engage.subscriptions.models import Topic

OPENAPI = "/api/v1/openapi.json"
GROUP = {
    "name": "Circle",
    "purposes": ["anxiety"],
    "format": "online",
    "region": "North West England",
    "contact": "circle@example.org",
}


@pytest.fixture
def editor(auth):
    return auth("editor")


@pytest.fixture
def topic(ctx, db):
    db.session.add(Topic(slug="newsletter", name="Newsletter", is_default=True))
    db.session.commit()


def _fields(response) -> dict:
    assert response.status_code == 422, response.get_json()
    return response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("consent", "field"),
    [
        ({"consented_at": 0}, "subscribers.0.consent.consented_at"),
        ({"consented_at": 1714550400.5}, "subscribers.0.consent.consented_at"),
        ({"consented_at": True}, "subscribers.0.consent.consented_at"),
        ({"source": 7}, "subscribers.0.consent.source"),
    ],
)
def test_json_types_are_not_coerced(client, editor, consent, field):
    row = {"email": "a@example.org", "confirmed": True, "consent": consent}
    response = client.post("/api/v1/subscribers", json={"subscribers": [row]}, headers=editor)
    assert field in _fields(response)


def test_an_id_must_be_a_number_not_a_boolean(client, auth):
    body = {"ids": [False, True], "action": "spam"}
    response = client.post("/api/v1/comments/bulk", json=body, headers=auth("moderator"))
    assert {"ids.0", "ids.1"} <= set(_fields(response))


def test_a_flag_must_be_a_boolean(client, editor):
    response = client.post("/api/v1/groups", json={**GROUP, "approved": "true"}, headers=editor)
    assert "approved" in _fields(response)


@pytest.mark.parametrize("name", ["name", "format", "purposes", "run_by", "language", "contact"])
def test_a_group_patch_refuses_null_where_the_document_says_no_null(client, editor, name, app):
    group = client.post("/api/v1/groups", json=GROUP, headers=editor).get_json()
    response = client.patch(f"/api/v1/groups/{group['id']}", json={name: None}, headers=editor)
    assert name in _fields(response)
    schema = client.get(OPENAPI).get_json()["components"]["schemas"]["GroupPatch"]
    assert "anyOf" not in schema["properties"][name] and "default" not in schema["properties"][name]


def test_an_event_patch_refuses_null_times(client, editor):
    event = client.post(
        "/api/v1/events",
        json={
            "title": "Evening",
            "starts_at": "2031-06-01T18:00:00+00:00",
            "ends_at": "2031-06-01T20:00:00+00:00",
            "location": "Library",
        },
        headers=editor,
    ).get_json()
    response = client.patch(
        f"/api/v1/events/{event['id']}", json={"starts_at": None, "title": None}, headers=editor
    )
    assert {"starts_at", "title"} <= set(_fields(response))


@pytest.mark.parametrize("field", ["subject", "preheader"])
def test_control_characters_in_a_subject_are_refused_on_that_field(client, editor, topic, field):
    body = {"subject": "Hello", "body_markdown": "Hi.", "topics": ["newsletter"]}
    body[field] = "Hello\x17there"
    assert list(_fields(client.post("/api/v1/newsletters", json=body, headers=editor))) == [field]


def test_scheduling_a_newsletter_without_topics_is_a_conflict(client, editor):
    body = {"subject": "Hello", "body_markdown": "Hi."}
    newsletter = client.post("/api/v1/newsletters", json=body, headers=editor).get_json()
    response = client.post(
        f"/api/v1/newsletters/{newsletter['id']}/schedule",
        json={"send_at": "2099-01-01T09:00:00+00:00"},
        headers=editor,
    )
    assert response.status_code == 409


def test_purposes_and_digests_are_listed_in_the_document(client):
    document = client.get(OPENAPI).get_json()
    schemas = document["components"]["schemas"]
    purposes = schemas["GroupIn"]["properties"]["purposes"]
    assert "anxiety" in purposes["items"]["enum"] and purposes["minItems"] == 1
    digest = schemas["PreferencesIn"]["properties"]["digest"]["anyOf"][0]
    assert digest["enum"] == ["off", "weekly", "daily"]
    assert schemas["GroupIn"]["anyOf"] == [
        {"required": ["region"], "properties": {"region": {"type": "string", "minLength": 1}}},
        {"required": ["city"], "properties": {"city": {"type": "string", "minLength": 1}}},
    ]


def test_statuses_the_views_answer_are_documented(client):
    paths = client.get(OPENAPI).get_json()["paths"]
    for action in ("pause", "resume", "cancel", "schedule"):
        responses = paths[f"/api/v1/newsletters/{{newsletter_id}}/{action}"]["post"]["responses"]
        assert "409" in responses, action
    create = paths["/api/v1/groups"]["post"]["responses"]["422"]
    assert "description" in create and "rule" in create["description"]


def test_empty_filters_are_documented_as_allowed(client):
    paths = client.get(OPENAPI).get_json()["paths"]
    parameters = {p["name"]: p for p in paths["/api/v1/comments"]["get"]["parameters"]}
    assert {"const": ""} in parameters["status"]["schema"]["anyOf"]


def test_request_strings_say_they_refuse_nul(client):
    schemas = client.get(OPENAPI).get_json()["components"]["schemas"]
    assert schemas["PauseIn"]["properties"]["reason"]["pattern"] == "^[^\\u0000]*$"
    # Responses make no such promise.
    assert "pattern" not in schemas["ErrorDetail"]["properties"]["message"]


def test_a_lone_surrogate_is_not_json(client, editor):
    body = '{"name": "\\ud800", "purposes": ["anxiety"], "format": "online", "city": "x"}'
    response = client.post(
        "/api/v1/groups", data=body, content_type="application/json", headers=editor
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "The body is not valid JSON."
