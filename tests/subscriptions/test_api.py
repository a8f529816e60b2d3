"""/api/v1/subscribers: list, bulk import, read, change, erase and export, for editors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import func, select

from engage.accounts.service import create_api_key
from engage.api import ErrorResponse
from engage.subscriptions import importing, service
from engage.subscriptions.models import Consent, Subscriber, Suppression
from engage.types import utcnow

_serial = count(1)
CONFIRM_SUBJECT = "Please confirm your subscription to Engage"
EVIDENCE = {
    "source": "https://old-list.example/signup",
    "text": "Yes, send me the newsletter.",
    "consented_at": "2024-05-01T09:30:00+02:00",
}


@pytest.fixture
def auth(ctx, db):
    """`auth(role)` → headers with a fresh API key of that role."""

    def headers(role: str = "editor") -> dict[str, str]:
        _, secret = create_api_key(db.session, f"key {next(_serial)}", role)
        # Committed (to the test's savepoint): a request that fails rolls back the session.
        db.session.commit()
        return {"Authorization": f"Bearer {secret}"}

    return headers


@pytest.fixture
def editor(auth):
    return auth("editor")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = ErrorResponse.model_validate(response.get_json())
    assert body.error.code == code
    assert body.error.message
    return body.error.model_dump()


def make_subscriber(db, email, *, status="pending", topics=None, digest="off"):
    """A subscriber in `status`, through the service as a reader would get there."""
    outcome = service.sign_up(db.session, email, topics=topics, digest=digest, source="test")
    if status in ("confirmed", "unsubscribed"):
        service.confirm(db.session, outcome.subscriber.id, outcome.consent.id)
    if status == "unsubscribed":
        service.unsubscribe(db.session, outcome.subscriber)
    db.session.commit()
    return outcome.subscriber


def subscriber_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Subscriber))


def by_email(db, email) -> Subscriber | None:
    db.session.expire_all()
    return db.session.scalar(select(Subscriber).where(Subscriber.email == email))


def post_import(client, headers, *rows):
    return client.post("/api/v1/subscribers", json={"subscribers": list(rows)}, headers=headers)


# --- listing --------------------------------------------------------------------------------


def test_the_list_gives_each_subscriber_with_utc_timestamps(client, topics, db, editor):
    reader = make_subscriber(db, "reader@example.org", status="confirmed", digest="weekly")
    response = client.get("/api/v1/subscribers", headers=editor)
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 1 and body["next"] is None
    [item] = body["items"]
    assert item == {
        "id": reader.id,
        "email": "reader@example.org",
        "status": "confirmed",
        "topics": ["newsletter"],
        "digest": "weekly",
        "created_at": reader.created_at.isoformat(),
        "confirmed_at": reader.confirmed_at.isoformat(),
    }
    assert item["created_at"].endswith("+00:00")


def test_the_list_filters_by_email_status_and_topic(client, topics, db, editor):
    pending = make_subscriber(db, "pending@example.org")
    confirmed = make_subscriber(db, "confirmed@example.org", status="confirmed")
    groups = make_subscriber(db, "groups@example.org", status="confirmed", topics=["groups-news"])
    gone = make_subscriber(db, "gone@example.org", status="unsubscribed")

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/subscribers?{query}", headers=editor)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [item["id"] for item in response.get_json()["items"]]

    assert ids("") == [pending.id, confirmed.id, groups.id, gone.id]  # ordered by id
    assert ids("email=Confirmed@EXAMPLE.org") == [confirmed.id]  # normalised, exact
    assert ids("email=%20pending@example.org%20") == [pending.id]
    assert ids("email=nobody@example.org") == []
    assert ids("status=pending") == [pending.id]
    assert ids("status=confirmed") == [confirmed.id, groups.id]
    assert ids("status=unsubscribed") == [gone.id]
    assert ids("topic=groups-news") == [groups.id]
    assert ids("topic=newsletter&status=confirmed") == [confirmed.id]
    assert ids("email=&status=&topic=") == [pending.id, confirmed.id, groups.id, gone.id]


def test_bad_list_filters_answer_422_with_the_field(client, topics, editor):
    cases = {
        "email=not-an-address": "email",
        "email=a%0D%0ABcc:x@example.org": "email",
        "status=deleted": "status",
        "topic=no-such-topic": "topic",
        "topic=news%0Aletter": "topic",
        "email=" + "a" * 400 + "@example.org": "email",
    }
    for query, name in cases.items():
        error = assert_error(
            client.get(f"/api/v1/subscribers?{query}", headers=editor), 422, "validation_error"
        )
        assert list(error["fields"]) == [name], query


def test_the_list_is_paginated(client, topics, db, editor):
    made = [make_subscriber(db, f"reader{n}@example.org") for n in range(3)]
    first = client.get("/api/v1/subscribers?per_page=2&status=pending", headers=editor).get_json()
    assert [item["id"] for item in first["items"]] == [s.id for s in made[:2]]
    assert first["total"] == 3 and first["pages"] == 2
    assert first["next"] == "http://engage.test/api/v1/subscribers?per_page=2&status=pending&page=2"
    second = client.get(first["next"].removeprefix("http://engage.test"), headers=editor)
    assert [item["id"] for item in second.get_json()["items"]] == [made[2].id]
    assert second.get_json()["next"] is None


# --- roles and 404s ---------------------------------------------------------------------------


def test_every_endpoint_needs_an_editor_key(client, topics, db, auth):
    reader = make_subscriber(db, "reader@example.org")
    calls = [
        ("get", "/api/v1/subscribers", None),
        ("post", "/api/v1/subscribers", {"subscribers": [{"email": "x@example.org"}]}),
        ("get", f"/api/v1/subscribers/{reader.id}", None),
        ("patch", f"/api/v1/subscribers/{reader.id}", {"digest": "daily"}),
        ("delete", f"/api/v1/subscribers/{reader.id}", None),
        ("get", f"/api/v1/subscribers/{reader.id}/export", None),
    ]
    moderator = auth("moderator")
    for method, url, body in calls:
        assert_error(getattr(client, method)(url, json=body), 401, "unauthorized")
        assert_error(getattr(client, method)(url, json=body, headers=moderator), 403, "forbidden")
    assert subscriber_count(db) == 1
    assert client.get(f"/api/v1/subscribers/{reader.id}", headers=auth("admin")).status_code == 200


def test_unknown_ids_answer_404_in_the_error_shape(client, topics, editor):
    for subscriber_id in ("999999", str(2**31), str(10**30)):
        base = f"/api/v1/subscribers/{subscriber_id}"
        assert_error(client.get(base, headers=editor), 404, "not_found")
        assert_error(client.get(f"{base}/export", headers=editor), 404, "not_found")
        assert_error(client.patch(base, json={}, headers=editor), 404, "not_found")
        assert_error(client.delete(base, headers=editor), 404, "not_found")
    assert_error(client.get("/api/v1/subscribers/abc", headers=editor), 404, "not_found")


# --- one subscriber ---------------------------------------------------------------------------


def test_get_one_subscriber(client, topics, db, editor):
    reader = make_subscriber(db, "reader@example.org", topics=["groups-news", "newsletter"])
    body = client.get(f"/api/v1/subscribers/{reader.id}", headers=editor).get_json()
    assert body["email"] == "reader@example.org"
    assert body["status"] == "pending" and body["confirmed_at"] is None
    assert body["topics"] == ["groups-news", "newsletter"]


def test_patch_changes_topics_and_digest(client, topics, db, editor):
    reader = make_subscriber(db, "reader@example.org", status="confirmed")
    url = f"/api/v1/subscribers/{reader.id}"
    response = client.patch(url, json={"topics": ["groups-news"]}, headers=editor)
    assert response.status_code == 200
    assert response.get_json()["topics"] == ["groups-news"]
    assert response.get_json()["digest"] == "off"
    response = client.patch(url, json={"digest": "daily"}, headers=editor)
    assert response.get_json()["topics"] == ["groups-news"]  # left out: kept
    assert response.get_json()["digest"] == "daily"
    stored = by_email(db, "reader@example.org")
    assert [t.slug for t in stored.topics] == ["groups-news"]
    assert stored.digest == "daily" and stored.status == "confirmed"


def test_patch_refuses_unknown_choices_and_changes_nothing(client, topics, db, editor):
    reader = make_subscriber(db, "reader@example.org", status="confirmed", digest="weekly")
    url = f"/api/v1/subscribers/{reader.id}"
    cases = [
        ({"topics": ["newsletter", "no-such-topic"]}, "topics"),
        ({"digest": "hourly"}, "digest"),
        ({"digest": "daily\r\nBcc: x@example.org"}, "digest"),
        ({"topics": ["news\nletter"]}, "topics.0"),
        ({"topics": ["x" * 65]}, "topics.0"),
        ({"topics": "newsletter"}, "topics"),
        ({"status": "confirmed"}, "status"),
    ]
    for body, name in cases:
        error = assert_error(client.patch(url, json=body, headers=editor), 422, "validation_error")
        assert name in error["fields"], (body, error)
    stored = by_email(db, "reader@example.org")
    assert [t.slug for t in stored.topics] == ["newsletter"] and stored.digest == "weekly"


def test_patch_leaving_nothing_unsubscribes_as_the_preference_centre_does(
    client, topics, db, editor
):
    reader = make_subscriber(db, "reader@example.org", status="confirmed")
    body = client.patch(
        f"/api/v1/subscribers/{reader.id}", json={"topics": [], "digest": "off"}, headers=editor
    ).get_json()
    assert body["status"] == "unsubscribed" and body["topics"] == []


def test_delete_erases_and_suppresses_the_address(client, topics, db, editor):
    reader = make_subscriber(db, "reader@example.org", status="confirmed")
    reader_id = reader.id
    response = client.delete(f"/api/v1/subscribers/{reader_id}", headers=editor)
    assert response.status_code == 204 and response.get_data() == b""
    db.session.expire_all()
    assert db.session.get(Subscriber, reader_id) is None
    assert db.session.scalar(select(func.count()).select_from(Consent)) == 0
    assert service.is_suppressed(db.session, "reader@example.org")
    again = client.delete(f"/api/v1/subscribers/{reader_id}", headers=editor)
    assert_error(again, 404, "not_found")


def test_export_gives_what_the_reader_export_gives(client, topics, db, editor):
    reader = make_subscriber(db, "reader@example.org", status="confirmed", digest="weekly")
    response = client.get(f"/api/v1/subscribers/{reader.id}/export", headers=editor)
    assert response.status_code == 200
    body = response.get_json()
    assert body == json.loads(json.dumps(service.export(db.session, reader)))
    assert body["subscriber"]["email"] == "reader@example.org"
    assert body["subscriber"]["digest"] == "weekly"
    [consent] = body["consents"]
    assert consent["source"] == "test" and consent["confirmed_at"]


# --- import -------------------------------------------------------------------------------


def test_an_import_reports_each_row_and_writes_only_the_good_ones(
    client, topics, db, editor, tasks, smtp_server
):
    rows = [
        {"email": "New@Example.org", "topics": ["groups-news"], "digest": "weekly"},
        {"email": "kept@example.org", "confirmed": True, "consent": EVIDENCE},
        {"email": "not-an-address"},
        {"email": "evil@example.org\r\nBcc: victim@example.org"},
        {
            "email": "crlf-source@example.org",
            "confirmed": True,
            "consent": {**EVIDENCE, "source": "form\r\nX-Injected: yes"},
        },
        {"email": "a" * 300 + "@example.org"},
        {"email": "topics@example.org", "topics": ["newsletter", "no-such-topic"]},
        {"email": "new@EXAMPLE.org"},
        {"email": "no-evidence@example.org", "confirmed": True},
        {
            "email": "half-evidence@example.org",
            "confirmed": True,
            "consent": {**EVIDENCE, "text": "  "},
        },
        {"email": "bad-digest@example.org", "digest": "hourly"},
        {
            "email": "long-source@example.org",
            "confirmed": True,
            "consent": {**EVIDENCE, "source": "s" * 301},
        },
    ]
    response = post_import(client, editor, *rows)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["created"] == 2 and body["updated"] == 0
    rejected = {row["index"]: row for row in body["rejected"]}
    assert sorted(rejected) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert "email address" in rejected[2]["reason"]
    assert "line break" in rejected[3]["reason"] and "email" in rejected[3]["reason"]
    assert "line break" in rejected[4]["reason"] and "consent.source" in rejected[4]["reason"]
    assert "row 0" in rejected[7]["reason"]
    assert "consent evidence" in rejected[8]["reason"]
    assert "consent evidence" in rejected[9]["reason"]
    assert rejected[6]["reason"].startswith("topics:")
    assert rejected[10]["reason"].startswith("digest:")
    assert "longer than 300" in rejected[11]["reason"]
    # What is echoed back is the submitted value, printable and short: never a raw CR/LF.
    assert rejected[3]["email"] == "evil@example.orgBcc: victim@example.org"
    assert len(rejected[5]["email"]) <= importing.SHOWN_EMAIL_LENGTH
    assert "\r" not in response.get_data(as_text=True).replace("\\r", "")
    for row in body["rejected"]:
        assert "\r" not in (row["email"] or "") and "\n" not in (row["email"] or "")

    # Only the two good rows are in the database; a rejected row left nothing behind.
    db.session.expire_all()
    emails = db.session.scalars(select(Subscriber.email).order_by(Subscriber.id)).all()
    assert emails == ["new@example.org", "kept@example.org"]
    assert db.session.scalar(select(func.count()).select_from(Consent)) == 2

    new = by_email(db, "new@example.org")
    assert new.status == "pending" and new.digest == "weekly"
    assert [t.slug for t in new.topics] == ["groups-news"]
    [pending_consent] = new.consents
    assert pending_consent.source == importing.IMPORT_SOURCE
    assert pending_consent.confirmation_sent_at is None  # queued, not yet accepted

    kept = by_email(db, "kept@example.org")
    assert kept.status == "confirmed" and kept.confirmed_at is not None
    assert [t.slug for t in kept.topics] == ["newsletter"]  # none given: the defaults
    [evidence] = kept.consents
    assert evidence.source == EVIDENCE["source"]
    assert evidence.text == EVIDENCE["text"]
    assert evidence.consented_at == datetime(2024, 5, 1, 7, 30, tzinfo=UTC)
    assert evidence.version == importing.IMPORTED_CONSENT_VERSION
    assert evidence.confirmed_at is not None and evidence.confirmation_sent_at is None

    # The pending row gets its confirmation email; the confirmed one gets nothing.
    assert tasks.run() == ["engage.send_email"]
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["new@example.org"]
    assert received.message["Subject"] == CONFIRM_SUBJECT
    db.session.refresh(pending_consent)
    assert pending_consent.confirmation_sent_at is not None  # the server accepted it


def test_a_confirmed_import_sends_no_email(client, topics, db, editor, tasks, smtp_server):
    response = post_import(
        client, editor, {"email": "kept@example.org", "confirmed": True, "consent": EVIDENCE}
    )
    assert response.get_json() == {"created": 1, "updated": 0, "rejected": []}
    assert tasks.run() == []
    assert smtp_server.messages == []


def test_evidence_needs_an_offset_and_a_past_date(client, topics, db, editor):
    naive = post_import(
        client,
        editor,
        {"email": "ok@example.org"},
        {
            "email": "naive@example.org",
            "confirmed": True,
            "consent": {**EVIDENCE, "consented_at": "2024-05-01T09:30:00"},
        },
    )
    error = assert_error(naive, 422, "validation_error")
    assert list(error["fields"]) == ["subscribers.1.consent.consented_at"]
    assert subscriber_count(db) == 0  # a malformed request writes nothing at all

    future = (utcnow() + timedelta(days=2)).isoformat()
    response = post_import(
        client,
        editor,
        {
            "email": "future@example.org",
            "confirmed": True,
            "consent": {**EVIDENCE, "consented_at": future},
        },
    )
    [rejected] = response.get_json()["rejected"]
    assert "future" in rejected["reason"]
    assert subscriber_count(db) == 0


def test_malformed_rows_answer_422_and_write_nothing(client, topics, db, editor):
    cases = [
        ({"subscribers": [{"email": "ok@example.org"}, {"email": 42}]}, "subscribers.1.email"),
        ({"subscribers": [{"email": "ok@example.org", "confirmed": "yes"}]}, "subscribers.0"),
        ({"subscribers": [{"email": "ok@example.org", "topic": ["x"]}]}, "subscribers.0.topic"),
        ({"subscribers": []}, "subscribers"),
        ({"people": []}, "people"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/subscribers", json=body, headers=editor)
        error = assert_error(response, 422, "validation_error")
        assert any(name.startswith(field) for name in error["fields"]), (body, error)
    assert subscriber_count(db) == 0


def test_a_batch_is_capped(client, topics, db, editor):
    rows = [{"email": f"reader{n}@example.org"} for n in range(importing.MAX_ROWS + 1)]
    error = assert_error(post_import(client, editor, *rows), 422, "validation_error")
    assert "subscribers" in error["fields"]
    assert subscriber_count(db) == 0
    huge = {"subscribers": [{"email": "x@example.org", "consent": {"text": "a" * 2_000_000}}]}
    response = client.post("/api/v1/subscribers", json=huge, headers=editor)
    assert_error(response, 413, "payload_too_large")


def test_a_double_submit_changes_nothing_the_second_time(
    client, topics, db, editor, tasks, smtp_server
):
    rows = [
        {"email": "pending@example.org"},
        {"email": "kept@example.org", "confirmed": True, "consent": EVIDENCE},
    ]
    first = post_import(client, editor, *rows).get_json()
    second = post_import(client, editor, *rows).get_json()
    assert first == {"created": 2, "updated": 0, "rejected": []}
    assert second == {"created": 0, "updated": 2, "rejected": []}
    assert subscriber_count(db) == 2
    kept = by_email(db, "kept@example.org")
    assert len(kept.consents) == 1  # the same evidence is recorded once
    tasks.run()
    # One confirmation: the service's rate limit holds back the repeat.
    assert [m.rcpt_tos for m in smtp_server.messages] == [["pending@example.org"]]


def test_known_addresses_change_only_with_new_evidence_or_while_pending(client, topics, db, editor):
    make_subscriber(db, "pending@example.org")
    make_subscriber(db, "confirmed@example.org", status="confirmed")
    make_subscriber(db, "upgraded@example.org", status="confirmed")
    make_subscriber(db, "gone@example.org", status="unsubscribed")
    back = make_subscriber(db, "back@example.org", status="unsubscribed")
    back.unsubscribed_at = utcnow() - timedelta(days=1)
    db.session.commit()
    recent = {**EVIDENCE, "consented_at": (utcnow() - timedelta(minutes=1)).isoformat()}
    response = post_import(
        client,
        editor,
        {"email": "pending@example.org", "topics": ["groups-news"], "digest": "daily"},
        {"email": "confirmed@example.org", "topics": ["groups-news"]},
        {"email": "upgraded@example.org", "topics": ["groups-news"], "confirmed": True,
         "consent": recent},
        {"email": "gone@example.org"},
        {"email": "gone@example.org".upper(), "confirmed": True, "consent": EVIDENCE},
        {"email": "back@example.org", "confirmed": True, "consent": recent},
    )  # fmt: skip
    body = response.get_json()
    assert body["created"] == 0 and body["updated"] == 3, body
    reasons = {row["index"]: row["reason"] for row in body["rejected"]}
    assert sorted(reasons) == [1, 3, 4]
    assert "already a confirmed subscriber" in reasons[1]
    assert "unsubscribed" in reasons[3]
    assert "row 3" in reasons[4]  # the same address twice: the later row is refused

    pending = by_email(db, "pending@example.org")
    assert pending.status == "pending" and pending.digest == "daily"
    assert [t.slug for t in pending.topics] == ["groups-news"]
    confirmed = by_email(db, "confirmed@example.org")
    assert [t.slug for t in confirmed.topics] == ["newsletter"]  # untouched
    upgraded = by_email(db, "upgraded@example.org")
    assert [t.slug for t in upgraded.topics] == ["groups-news"]
    assert [c.version for c in upgraded.consents][-1] == importing.IMPORTED_CONSENT_VERSION
    assert by_email(db, "gone@example.org").status == "unsubscribed"
    back = by_email(db, "back@example.org")
    assert back.status == "confirmed" and back.unsubscribed_at is None


def test_old_evidence_does_not_bring_back_someone_who_left(client, topics, db, editor):
    make_subscriber(db, "gone@example.org", status="unsubscribed")
    response = post_import(
        client, editor, {"email": "gone@example.org", "confirmed": True, "consent": EVIDENCE}
    )
    [rejected] = response.get_json()["rejected"]
    assert "unsubscribed" in rejected["reason"]
    assert by_email(db, "gone@example.org").status == "unsubscribed"


def test_a_suppressed_address_needs_evidence_given_after_it_was_suppressed(
    client, topics, db, editor, tasks, smtp_server
):
    erased = make_subscriber(db, "erased@example.org", status="confirmed")
    service.erase(db.session, erased)
    db.session.scalar(select(Suppression)).created_at = utcnow() - timedelta(days=1)
    db.session.commit()
    recent = {**EVIDENCE, "consented_at": (utcnow() - timedelta(hours=1)).isoformat()}

    body = post_import(
        client,
        editor,
        {"email": "erased@example.org"},
    ).get_json()
    assert body["created"] == 0 and "suppression list" in body["rejected"][0]["reason"]
    body = post_import(
        client, editor, {"email": "erased@example.org", "confirmed": True, "consent": EVIDENCE}
    ).get_json()
    assert body["created"] == 0 and "suppression list" in body["rejected"][0]["reason"]
    assert by_email(db, "erased@example.org") is None

    body = post_import(
        client, editor, {"email": "erased@example.org", "confirmed": True, "consent": recent}
    ).get_json()
    assert body == {"created": 1, "updated": 0, "rejected": []}
    assert by_email(db, "erased@example.org").status == "confirmed"
    assert not service.is_suppressed(db.session, "erased@example.org")  # new consent lifts it
    assert tasks.run() == [] and smtp_server.messages == []


def test_internationalised_addresses_are_imported_and_mailed(
    client, topics, db, editor, tasks, smtp_server
):
    response = post_import(
        client, editor, {"email": "José@example.org"}, {"email": "reader@exämple.org"}
    )
    body = response.get_json()
    assert body == {"created": 2, "updated": 0, "rejected": []}
    tasks.run()
    recipients = sorted(r for m in smtp_server.messages for r in m.rcpt_tos)
    # A Unicode local part travels with SMTPUTF8; a Unicode domain alone goes out as IDNA.
    assert recipients == ["josé@example.org", "reader@xn--exmple-cua.org"]


def test_the_import_needs_json(client, topics, editor):
    response = client.post("/api/v1/subscribers", data="email=x@example.org", headers=editor)
    assert_error(response, 415, "unsupported_media_type")


def test_answers_match_the_openapi_document(client, topics, db, editor):
    from jsonschema import Draft202012Validator

    document = client.get("/api/v1/openapi.json").get_json()
    reader = make_subscriber(db, "reader@example.org", status="confirmed")

    def validate(method, path, status, response):
        assert str(response.status_code) == status, response.get_data(as_text=True)
        answer = document["paths"][path][method]["responses"][status]
        if "$ref" in answer:
            answer = document["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
        schema = answer["content"]["application/json"]["schema"]
        validator = Draft202012Validator({**schema, "components": document["components"]})
        validator.validate(response.get_json())

    one = "/api/v1/subscribers/{subscriber_id}"
    validate("get", "/api/v1/subscribers", "200", client.get("/api/v1/subscribers", headers=editor))
    validate(
        "get",
        "/api/v1/subscribers",
        "422",
        client.get("/api/v1/subscribers?status=x", headers=editor),
    )
    validate(
        "post",
        "/api/v1/subscribers",
        "200",
        post_import(client, editor, {"email": "new@example.org"}, {"email": "bad"}),
    )
    validate("get", one, "200", client.get(f"/api/v1/subscribers/{reader.id}", headers=editor))
    validate("get", one, "404", client.get("/api/v1/subscribers/999999", headers=editor))
    validate(
        "patch",
        one,
        "200",
        client.patch(f"/api/v1/subscribers/{reader.id}", json={"digest": "daily"}, headers=editor),
    )
    validate(
        "get",
        one + "/export",
        "200",
        client.get(f"/api/v1/subscribers/{reader.id}/export", headers=editor),
    )
    assert set(document["paths"][one]) == {"get", "patch", "delete"}
