"""/api/v1/suppressions: the list for editors, lifting one (with a note) for admins."""

from __future__ import annotations

from itertools import count

import pytest
from sqlalchemy import select

from engage.accounts.service import create_api_key
from engage.subscriptions import service
from engage.subscriptions.models import Subscriber, Suppression, SuppressionLift
from tests.subscriptions.test_desk import add

_serial = count(1)


@pytest.fixture
def auth(ctx, db):
    """`auth(role)` → (headers, key) with a fresh API key of that role."""

    def make(role: str = "editor"):
        key, secret = create_api_key(db.session, f"key {next(_serial)}", role)
        db.session.commit()
        return {"Authorization": f"Bearer {secret}"}, key

    return make


@pytest.fixture
def listed(ctx, db, topics):
    """Three suppressions: a complaint from a subscriber still held, two erased addresses."""
    held = add(db.session, "held@example.org", status="unsubscribed")
    service.suppress(db.session, held.email_hash, "complaint")
    for address in ("gone1@example.org", "gone2@example.org"):
        service.erase(db.session, add(db.session, address))
    db.session.commit()
    return held


def test_editors_list_suppressions_newest_first_with_pages(client, auth, listed, db):
    headers, _ = auth("editor")
    body = client.get("/api/v1/suppressions?per_page=2", headers=headers).get_json()
    assert body["total"] == 3 and body["pages"] == 2
    assert [item["reason"] for item in body["items"]] == ["erased", "erased"]
    assert all(item["email"] is None and item["subscriber_id"] is None for item in body["items"])
    assert body["next"].endswith("per_page=2&page=2")
    last = client.get("/api/v1/suppressions?per_page=2&page=2", headers=headers).get_json()
    [complaint] = last["items"]
    assert complaint["email"] == "held@example.org"
    assert complaint["subscriber_id"] == listed.id
    assert complaint["hash_prefix"] == listed.email_hash[:12]
    assert "email_hash" not in complaint  # only the start of the hash leaves the server


def test_the_list_filters_by_reason_and_by_address(client, auth, listed):
    headers, _ = auth("editor")
    by_reason = client.get("/api/v1/suppressions?reason=complaint", headers=headers).get_json()
    assert [i["email"] for i in by_reason["items"]] == ["held@example.org"]
    by_address = client.get(
        "/api/v1/suppressions?email=GONE1@example.org", headers=headers
    ).get_json()
    assert [i["hash_prefix"] for i in by_address["items"]] == [
        service.address_hash("gone1@example.org")[:12]
    ]
    bad = client.get("/api/v1/suppressions?email=gone1", headers=headers)
    assert bad.status_code == 422
    assert "email" in bad.get_json()["error"]["fields"]


def test_a_moderator_key_cannot_list(client, auth, listed):
    headers, _ = auth("moderator")
    assert client.get("/api/v1/suppressions", headers=headers).status_code == 403


def test_an_admin_lifts_one_and_the_history_keeps_it(client, auth, listed, db):
    headers, key = auth("admin")
    suppression = db.session.scalar(select(Suppression).where(Suppression.reason == "complaint"))
    response = client.delete(
        f"/api/v1/suppressions/{suppression.id}?note=Asked+us+by+phone", headers=headers
    )
    assert response.status_code == 204
    db.session.expire_all()
    assert db.session.get(Suppression, suppression.id) is None
    [lift] = db.session.scalars(select(SuppressionLift)).all()
    assert (lift.reason, lift.note, lift.api_key_id) == ("complaint", "Asked us by phone", key.id)
    assert lift.lifted_by == f"API key “{key.name}” (#{key.id})"
    assert db.session.get(Subscriber, listed.id).status == "unsubscribed"  # not re-subscribed
    again = client.delete(f"/api/v1/suppressions/{suppression.id}?note=again", headers=headers)
    assert again.status_code == 404


@pytest.mark.parametrize("note", ["", "+++", None])
def test_a_lift_needs_a_note(client, auth, listed, db, note):
    headers, _ = auth("admin")
    suppression = db.session.scalar(select(Suppression))
    query = "" if note is None else f"?note={note}"
    response = client.delete(f"/api/v1/suppressions/{suppression.id}{query}", headers=headers)
    assert response.status_code == 422
    assert "note" in response.get_json()["error"]["fields"]
    assert db.session.get(Suppression, suppression.id) is not None


def test_an_editor_key_cannot_lift(client, auth, listed, db):
    headers, _ = auth("editor")
    suppression = db.session.scalar(select(Suppression))
    response = client.delete(f"/api/v1/suppressions/{suppression.id}?note=x", headers=headers)
    assert response.status_code == 403
    assert db.session.get(Suppression, suppression.id) is not None
