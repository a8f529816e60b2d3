"""/api/v1/newsletters: create, read, schedule, pause, resume, cancel, test — and refusals."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from engage.accounts.service import create_api_key
from engage.newsletters import sending
from engage.newsletters.models import Newsletter
from engage.types import utcnow
from tests.newsletters.conftest import add_topic

_serial = itertools.count(1)


@pytest.fixture
def auth(ctx, db):
    def headers(role: str = "editor") -> dict[str, str]:
        _, secret = create_api_key(db.session, f"newsletter key {next(_serial)}", role)
        db.session.commit()  # a refused request rolls back what it did, not the fixtures
        return {"Authorization": f"Bearer {secret}"}

    return headers


@pytest.fixture
def editor(auth):
    return auth("editor")


def create(client, headers, topic, **fields):
    client.application.extensions["sqlalchemy"].session.commit()
    body = {"subject": "Monday news", "body_markdown": "Hello **all**", "topics": [topic.slug]}
    return client.post("/api/v1/newsletters", json={**body, **fields}, headers=headers)


def test_create_and_read(client, editor, db, readers):
    topic = add_topic(db.session)
    readers(3, topic)
    response = create(client, editor, topic, preheader="This week")
    assert response.status_code == 201
    created = response.get_json()
    assert created["status"] == "draft"
    assert created["topics"] == [topic.slug]

    got = client.get(f"/api/v1/newsletters/{created['id']}", headers=editor).get_json()
    assert got["id"] == created["id"]
    assert got["scheduled_at"] is None
    assert got["counts"] == {
        "total": 0,
        "sent": 0,
        "failed": 0,
        "pending": 0,
        "deferred": 0,
        "bounced": 0,
        "skipped": 0,
    }


def test_create_refusals(client, editor, auth, db):
    topic = add_topic(db.session)
    broken = create(client, editor, topic, body_markdown=None, body_mjml="<mj-text>open")
    assert broken.status_code == 422
    error = broken.get_json()["error"]
    assert "MJML" in error["fields"]["body_mjml"]

    unknown = create(client, editor, topic, topics=["no-such-topic"])
    assert unknown.status_code == 422
    assert "topics" in unknown.get_json()["error"]["fields"]
    assert create(client, editor, topic, subject=" ").status_code == 422
    assert create(client, editor, topic, extra="field").status_code == 422
    assert create(client, {}, topic).status_code == 401
    assert create(client, auth("moderator"), topic).status_code == 403
    assert client.get("/api/v1/newsletters/999999", headers=editor).status_code == 404
    assert client.get(f"/api/v1/newsletters/{2**40}", headers=editor).status_code == 404


def test_schedule_pause_resume_cancel(client, editor, db, readers, tasks, smtp_server):
    topic = add_topic(db.session)
    readers(4, topic)
    newsletter_id = create(client, editor, topic).get_json()["id"]
    url = f"/api/v1/newsletters/{newsletter_id}"

    naive = client.post(f"{url}/schedule", json={"send_at": "2030-01-01T09:00:00"}, headers=editor)
    assert naive.status_code == 422
    past = (utcnow() - timedelta(hours=1)).isoformat()
    assert client.post(f"{url}/schedule", json={"send_at": past}, headers=editor).status_code == 422
    assert (
        client.post(f"{url}/schedule", json={"send_at": "soon"}, headers=editor).status_code == 422
    )
    assert client.post(f"{url}/pause", json={}, headers=editor).status_code == 409

    later = client.post(
        f"{url}/schedule", json={"send_at": "2099-05-01T09:30:00+02:00"}, headers=editor
    )
    assert later.status_code == 200
    assert later.get_json()["status"] == "scheduled"
    assert later.get_json()["scheduled_at"] == "2099-05-01T07:30:00+00:00"

    now = client.post(f"{url}/schedule", json={"send_at": "now"}, headers=editor)
    assert now.status_code == 200
    # Once committed: the start, then the batch it fans out, both run here.
    assert tasks.run() == ["engage.newsletters.tick", "engage.newsletters.send_batch"]
    assert len(smtp_server.wait_for(4)) == 4
    done = client.get(url, headers=editor).get_json()
    assert done["status"] == "sent"
    assert done["counts"] == {
        "total": 4,
        "sent": 4,
        "failed": 0,
        "pending": 0,
        "deferred": 0,
        "bounced": 0,
        "skipped": 0,
    }

    # Another one, started without running its batches, to steer.
    newsletter_id = create(client, editor, topic).get_json()["id"]
    url = f"/api/v1/newsletters/{newsletter_id}"
    assert (
        client.post(f"{url}/schedule", json={"send_at": "now"}, headers=editor).status_code == 200
    )
    sending.start_due(db.session)
    db.session.commit()
    paused = client.post(f"{url}/pause", json={"reason": "A typo"}, headers=editor).get_json()
    assert (paused["status"], paused["paused_reason"]) == ("paused", "A typo")
    assert paused["counts"]["pending"] == 4
    assert (
        client.post(f"{url}/schedule", json={"send_at": "now"}, headers=editor).status_code == 409
    )
    assert client.post(f"{url}/resume", headers=editor).get_json()["status"] == "sending"
    cancelled = client.post(f"{url}/cancel", headers=editor).get_json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["counts"]["skipped"] == 4
    assert client.post(f"{url}/cancel", headers=editor).status_code == 409
    assert client.post(f"{url}/resume", headers=editor).status_code == 409


def test_send_a_test_copy(client, editor, db, tasks, smtp_server):
    topic = add_topic(db.session)
    newsletter_id = create(client, editor, topic).get_json()["id"]
    url = f"/api/v1/newsletters/{newsletter_id}/test"
    assert client.post(url, json={"to": "not an address"}, headers=editor).status_code == 422
    response = client.post(url, json={"to": "Editor@Example.org"}, headers=editor)
    assert response.status_code == 202

    assert tasks.run() == ["engage.newsletters.send_test"]
    [message] = smtp_server.wait_for(1)
    assert message.rcpt_tos == ["editor@example.org"]
    msg = message.message
    assert msg["Subject"] == "[Test] Monday news"
    # What a reader gets, list headers included, but its acting links change nothing.
    test_page = "http://engage.test/newsletters/test-copy/unsubscribe"
    assert f"\r\nList-Unsubscribe: <{test_page}>\r\n".encode() in message.raw
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in message.raw
    assert b"\r\nList-Id: Engage <news.engage.test>\r\n" in message.raw
    text = msg.get_body(("plain",)).get_content()
    assert f"Unsubscribe ({test_page})" in text
    assert "http://engage.test/newsletters/test-copy/preferences" in text
    assert "%%" not in text
    db.session.expire_all()
    assert db.session.get(Newsletter, newsletter_id).status == "draft"
    assert sending.send_test_message(db.session, 999999, "x@example.org") is None


def test_a_control_character_pasted_into_markdown_does_not_break_the_render(
    client, editor, db, readers
):
    # Found by the contract test: U+001E made the MJML unreadable, and the API said 422.
    topic = add_topic(db.session)
    db.session.commit()
    created = create(client, editor, topic, body_markdown="Hello\x1e readers\x07.")
    assert created.status_code == 201, created.get_data(as_text=True)
    newsletter = db.session.get(Newsletter, created.get_json()["id"])
    assert newsletter.body_markdown  # kept as written; only the render leaves them out


def test_a_remote_image_is_refused_with_the_message(client, editor, db):
    topic = add_topic(db.session)
    body = '<mj-text>Hi</mj-text>\n<mj-image src="https://tracker.example/pixel.gif" />'
    response = create(client, editor, topic, body_markdown=None, body_mjml=body)
    assert response.status_code == 422, response.get_json()
    message = response.get_json()["error"]["fields"]["body_mjml"]
    assert message.startswith("Line 2: Remote images are not allowed")
    assert "tracker.example/pixel.gif" in message
    assert db.session.query(Newsletter).count() == 0
    fine = '<mj-image src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="" />'
    assert create(client, editor, topic, body_markdown=None, body_mjml=fine).status_code == 201


def test_a_subject_over_the_cap_is_refused_with_a_clear_message(client, editor, db):
    topic = add_topic(db.session)
    response = create(client, editor, topic, subject="é" * 201)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert "at most 200 characters" in error["fields"]["subject"]
    assert create(client, editor, topic, subject="é" * 200).status_code == 201
