"""`GET /api/v1/stats`: the dashboard's figures as JSON, for editors only."""

from __future__ import annotations

from datetime import timedelta

from engage.stats import rollup
from engage.types import utcnow
from tests.stats import history


def test_editors_get_the_counts_and_the_daily_series(client, auth, db):
    now = utcnow()
    expected = history.build(db.session, now.date())
    history.waiting_work(db.session, now)
    history.one_send(db.session, history.at(now.date() - timedelta(2), 6))
    rollup.rebuild(db.session, now=now)
    db.session.commit()

    response = client.get("/api/v1/stats", headers=auth("editor"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["totals"] == {"confirmed": 4, "pending": 1, "unsubscribed": 2}
    assert body["last_30_days"] == {
        "days": 30,
        "signups": 7,
        "confirmations": 5,
        "unsubscribes": 2,
        "bounces_hard": 1,
        "bounces_soft": 2,
        "complaints": 1,
    }
    assert body["waiting"] == {
        "replies_pending": 1,
        "replies_needs_care": 1,
        "replies_reported": 0,
        "listings_to_review": 1,
        "listings_to_check": 0,
        "failed_mail": 1,
    }
    series = body["series"]
    assert len(series) == 90
    assert series[-1]["day"] == now.date().isoformat()
    by_day = {entry["day"]: entry for entry in series}
    for day, numbers in expected.items():
        entry = by_day[day.isoformat()]
        assert {name: entry[name] for name in numbers} == numbers
    assert by_day[now.date().isoformat()]["net_growth"] == 4 - 2
    (send,) = body["sends"]
    assert send["subject"] == "Autumn letter"
    assert {k: send[k] for k in ("recipients", "delivered", "deferred", "bounced")} == {
        "recipients": 5,
        "delivered": 3,
        "deferred": 1,
        "bounced": 1,
    }
    assert send["unsubscribed"] == 1


def test_an_empty_database_answers_zeros(client, auth):
    body = client.get("/api/v1/stats", headers=auth("admin")).get_json()
    assert body["totals"] == {"confirmed": 0, "pending": 0, "unsubscribed": 0}
    assert body["sends"] == []
    assert all(entry["net_growth"] == 0 for entry in body["series"])


def test_moderators_and_anonymous_callers_are_refused(client, auth):
    assert client.get("/api/v1/stats", headers=auth("moderator")).status_code == 403
    response = client.get("/api/v1/stats")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"]


def test_the_openapi_document_describes_it(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/stats"]["get"]
    assert operation["x-required-role"] == "editor"
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/StatsOut")
