"""The directory in the JSON API: roles, creating (listed at once or not), filters, PATCH,
approve and reject, 404 and 422."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engage.community.models import SupportGroup
from engage.types import utcnow
from tests.community.conftest import mail_to

GROUP = {
    "name": "Harbour Grief Circle",
    "purposes": ["bereavement"],
    "format": "hybrid",
    "region": "Leinster",
    "city": "Dublin",
    "schedule": "First Saturday, 11am",
    "timezone": "Europe/Dublin",
    "contact": "harbour@example.org",
}


def event_body(**values) -> dict:
    starts = utcnow() + timedelta(days=5)
    body = {
        "title": "Open evening",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "timezone": "Europe/London",
        "location": "Town Hall",
    }
    body.update(values)
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/groups"),
        ("post", "/api/v1/groups"),
        ("get", "/api/v1/events"),
        ("post", "/api/v1/events"),
        ("patch", "/api/v1/groups/1"),
        ("post", "/api/v1/groups/1/approve"),
        ("post", "/api/v1/events/1/approve"),
    ],
)
def test_the_endpoints_need_an_editor_key(client, auth, method, path):
    assert getattr(client, method)(path, json={}).status_code == 401
    response = getattr(client, method)(path, json={}, headers=auth("moderator"))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"]


def test_create_a_pending_group_then_approve_it(client, auth, db, tasks, smtp_server):
    headers = auth("editor")
    created = client.post(
        "/api/v1/groups",
        json={**GROUP, "organiser_email": "Harbour.Organiser@example.org"},
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["status"] == "pending" and body["approved_at"] is None and body["url"] is None
    assert body["slug"] == "harbour-grief-circle"
    assert body["language"] == "English" and body["run_by"] == "peer"
    assert body["organiser_email"] == "harbour.organiser@example.org"
    assert client.get(f"/groups/{body['slug']}").status_code == 404
    organiser = "harbour.organiser@example.org"
    assert mail_to(tasks, smtp_server, organiser) == []  # no email for an editor's own draft

    approved = client.post(f"/api/v1/groups/{body['id']}/approve", headers=headers)
    assert approved.status_code == 200
    first = approved.get_json()
    assert first["status"] == "approved" and first["approved_at"]
    assert first["url"] == f"http://engage.test/groups/{body['slug']}"
    assert client.get(f"/groups/{body['slug']}").status_code == 200
    assert len(mail_to(tasks, smtp_server, organiser)) == 1  # the organiser hears, with a link

    again = client.post(f"/api/v1/groups/{body['id']}/approve", headers=headers).get_json()
    assert again["approved_at"] == first["approved_at"]  # approving twice announces nothing
    assert len(mail_to(tasks, smtp_server, organiser)) == 1


def test_create_listed_at_once(client, auth, db):
    response = client.post("/api/v1/groups", json={**GROUP, "approved": True}, headers=auth())
    body = response.get_json()
    assert response.status_code == 201
    assert body["status"] == "approved" and body["approved_at"]
    group = db.session.get(SupportGroup, body["id"])
    assert group.approved_at is not None

    event = client.post(
        "/api/v1/events", json=event_body(group_id=body["id"], approved=True), headers=auth()
    )
    assert event.status_code == 201, event.get_json()
    out = event.get_json()
    assert out["status"] == "approved" and out["group_id"] == body["id"]
    assert out["ics_url"] == f"http://engage.test/events/{out['slug']}.ics"
    assert client.get(f"/events/{out['slug']}").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GROUP, "purposes": ["astrology"]}, "purposes.0"),  # the schema lists them
        ({**GROUP, "format": "teleport"}, "format"),
        ({**GROUP, "timezone": "Nowhere/Special"}, "timezone"),
        ({**GROUP, "region": "", "city": ""}, "region"),
        ({**GROUP, "next_meeting_at": "2031-01-01T10:00:00"}, "next_meeting_at"),  # naive
        ({**GROUP, "organiser_email": "nope"}, "organiser_email"),
        ({**GROUP, "surprise": 1}, "surprise"),
        ({k: v for k, v in GROUP.items() if k != "name"}, "name"),
    ],
)
def test_invalid_groups_answer_422_with_the_field(client, auth, body, field):
    response = client.post("/api/v1/groups", json=body, headers=auth())
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"location": "", "online_url": ""}, "location"),
        ({"online_url": "javascript:alert(1)"}, "online_url"),
        ({"group_id": 987654}, "group_id"),
        ({"timezone": "Mars/Base"}, "timezone"),
    ],
)
def test_invalid_events_answer_422(client, auth, values, field):
    response = client.post("/api/v1/events", json=event_body(**values), headers=auth())
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_an_event_that_ends_before_it_starts_is_refused(client, auth):
    starts = utcnow() + timedelta(days=2)
    ends = starts - timedelta(hours=1)
    body = event_body(starts_at=starts.isoformat(), ends_at=ends.isoformat())
    response = client.post("/api/v1/events", json=body, headers=auth())
    assert response.status_code == 422
    assert "ends_at" in response.get_json()["error"]["fields"]


def test_lists_filter(client, auth, make_group, make_event):
    anxiety = make_group(name="Anxious Together", purposes=["anxiety"], language="Welsh")
    make_group(name="Grief Walk", purposes=["bereavement"], status="pending", approved_at=None)
    make_event(title="Soon", group_id=anxiety.id)
    make_event(title="Gone", group_id=anxiety.id, starts_at=utcnow() - timedelta(days=3))
    headers = auth()

    def names(path):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.get_json()
        return [item.get("name") or item.get("title") for item in response.get_json()["items"]]

    assert sorted(names("/api/v1/groups")) == ["Anxious Together", "Grief Walk"]
    assert names("/api/v1/groups?status=pending") == ["Grief Walk"]
    assert names("/api/v1/groups?purpose=anxiety") == ["Anxious Together"]
    assert names("/api/v1/groups?language=welsh") == ["Anxious Together"]
    assert names("/api/v1/events") == ["Gone", "Soon"]
    assert names("/api/v1/events?upcoming=true") == ["Soon"]
    assert names(f"/api/v1/events?group_id={anxiety.id}&purpose=anxiety") == ["Gone", "Soon"]
    assert client.get("/api/v1/groups?status=lost", headers=headers).status_code == 422
    assert client.get("/api/v1/groups?purpose=astrology", headers=headers).status_code == 422


def test_patch_changes_only_what_is_sent(client, auth, make_group, make_event):
    group = make_group(name="Old Name", cost="Free")
    headers = auth()
    response = client.patch(
        f"/api/v1/groups/{group.id}", json={"cost": "£3", "schedule": "Mondays"}, headers=headers
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["cost"] == "£3" and body["schedule"] == "Mondays" and body["name"] == "Old Name"
    assert body["status"] == "approved" and not body["needs_check"]  # an editor's own change
    assert body["updated_at"]
    assert (
        client.patch(f"/api/v1/groups/{group.id}", json={"name": ""}, headers=headers).status_code
        == 422
    )
    assert (
        client.patch(
            f"/api/v1/groups/{group.id}", json={"status": "approved"}, headers=headers
        ).status_code
        == 422
    )

    event = make_event(group_id=group.id)
    unlinked = client.patch(f"/api/v1/events/{event.id}", json={"group_id": None}, headers=headers)
    assert unlinked.status_code == 200 and unlinked.get_json()["group_id"] is None
    later = (event.starts_at - timedelta(hours=1)).isoformat()
    refused = client.patch(f"/api/v1/events/{event.id}", json={"ends_at": later}, headers=headers)
    assert refused.status_code == 422


def test_reject_needs_a_reason_and_emails_it(client, auth, make_group, tasks, smtp_server):
    group = make_group(status="pending", approved_at=None)
    headers = auth()
    path = f"/api/v1/groups/{group.id}/reject"
    assert client.post(path, json={"reason": "  "}, headers=headers).status_code == 422
    response = client.post(path, json={"reason": "Not a support group."}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["status"] == "rejected"
    [message] = mail_to(tasks, smtp_server, group.organiser_email)
    body = message.message.get_body(("plain",)).get_content()
    assert "Not a support group." in body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/groups/999999"),
        ("patch", "/api/v1/groups/999999"),
        ("post", "/api/v1/groups/999999/approve"),
        ("post", "/api/v1/events/999999/approve"),
        ("patch", "/api/v1/events/999999"),
        ("get", "/api/v1/events/99999999999999"),
    ],
)
def test_unknown_ids_answer_404(client, auth, method, path):
    response = getattr(client, method)(path, json={}, headers=auth())
    assert response.status_code == 404
    assert response.get_json()["error"]["message"]


def test_the_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/groups", "/api/v1/events", "/api/v1/groups/{group_id}/approve"):
        assert path in paths, sorted(paths)
