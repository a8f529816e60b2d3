"""Replies in the JSON API: queues for moderators, the address only for admin keys."""

from __future__ import annotations

import pytest

from engage.accounts.service import create_api_key
from engage.comments import service


@pytest.fixture
def auth(ctx, db):
    def headers(role="moderator"):
        _, secret = create_api_key(db.session, f"{role} key", role)
        return {"Authorization": f"Bearer {secret}"}

    return headers


def test_list_by_status_and_queue_without_email(client, auth, reply):
    reply(status="pending", email="hidden@example.org", body="Waiting")
    reply(status="pending", flag_needs_care=True, body="Care")
    reply(status="approved")
    answer = client.get("/api/v1/comments?status=pending", headers=auth())
    assert answer.status_code == 200
    data = answer.get_json()
    assert {i["body_html"] for i in data["items"]} == {"<p>Waiting</p>", "<p>Care</p>"}
    assert set(data["items"][0]) == {
        "id", "article", "parent_id", "author_name", "body_html", "status", "flags", "created_at",
        "edited_at", "text_hash",
    }  # fmt: skip
    assert "hidden@example.org" not in answer.get_data(as_text=True)
    care = client.get("/api/v1/comments?queue=needs_care", headers=auth()).get_json()
    assert [i["flags"] for i in care["items"]] == [["needs_care"]]


def test_admin_keys_see_the_address(client, auth, reply):
    reply(status="pending", email="shown@example.org")
    data = client.get("/api/v1/comments?status=pending", headers=auth("admin")).get_json()
    assert data["items"][0]["author_email"] == "shown@example.org"


def test_approve_reject_spam_and_bulk(client, db, auth, reply):
    a, b, c, d = (reply(status="pending") for _ in range(4))
    headers = auth()
    seen = {r.id: service.seen_hash(r) for r in (a, b, c, d)}
    approved = client.post(
        f"/api/v1/comments/{a.id}/approve", json={"seen_hash": seen[a.id]}, headers=headers
    )
    assert approved.get_json()["status"] == "approved"
    rejected = client.post(
        f"/api/v1/comments/{b.id}/reject", json={"reason": "Off topic"}, headers=headers
    )
    assert rejected.get_json()["status"] == "rejected"
    assert client.post(f"/api/v1/comments/{c.id}/spam", headers=headers).status_code == 200
    bulk = client.post(
        "/api/v1/comments/bulk",
        json={"ids": [d.id, a.id, 999999], "action": "approve", "seen": seen},
        headers=headers,
    ).get_json()
    assert bulk == {"changed": [d.id], "unchanged": [a.id], "missing": [999999], "stale": []}
    missing = client.post(
        "/api/v1/comments/999999/approve", json={"seen_hash": "x"}, headers=headers
    )
    assert missing.status_code == 404


def test_the_api_needs_a_key(client):
    assert client.get("/api/v1/comments").status_code == 401
