"""Bulk import at scale: a few SQL statements per batch whatever its size, and imports larger
than SYNC_ROWS answered 202 with a job a worker runs in committed batches, with progress.

The job's domain function is called here as its Celery task will call it (the thin wrapper
lives in workers/tasks.py): with the session's commit as the checkpoint.
"""

from __future__ import annotations

import json
from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import event, func, select

from engage.accounts.service import create_api_key
from engage.api import ErrorResponse
from engage.extensions import db as _db
from engage.subscriptions import importing, service
from engage.subscriptions.models import Consent, Subscriber
from engage.types import utcnow

_serial = count(1)
EVIDENCE = {
    "source": "https://old-list.example/signup",
    "text": "Yes, send me the newsletter.",
    "consented_at": "2024-05-01T09:30:00+02:00",
}


@pytest.fixture
def editor(ctx, db):
    _, secret = create_api_key(db.session, f"importer {next(_serial)}", "editor")
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def post_import(client, headers, rows):
    return client.post("/api/v1/subscribers", json={"subscribers": rows}, headers=headers)


def queued_task_names(app) -> list[str]:
    """What the request put on the broker (taken off it: tests/support/tasks.py would try to
    run the import task, whose wrapper is not in workers/tasks.py yet)."""
    celery = app.extensions["celery"]
    names = []
    with celery.connection_for_read() as conn:
        queue = conn.SimpleQueue(celery.conf.task_default_queue)
        try:
            while True:
                try:
                    message = queue.get(block=True, timeout=0.1)
                except queue.Empty:
                    break
                names.append(message.headers["task"])
                message.ack()
        finally:
            queue.close()
    return names


def mixed_rows(n: int, prefix: str = "reader") -> list[dict]:
    rows = []
    for i in range(n):
        if i % 10 == 9:
            rows.append({"email": f"{prefix}{i}", "topics": ["newsletter"]})  # not an address
        elif i % 5 == 4:
            rows.append({"email": f"{prefix}{i}@example.org", "confirmed": True,
                         "consent": EVIDENCE})  # fmt: skip
        else:
            rows.append({"email": f"{prefix}{i}@example.org", "digest": "weekly"})
    return rows


# --- set-based --------------------------------------------------------------------------------


def _known_addresses(db):
    for i in range(0, 40, 2):  # some addresses already known, to be updated
        service.sign_up(db.session, f"reader{i}@example.org", topics=None, digest="off",
                        source="test")  # fmt: skip
    db.session.commit()


def test_a_thousand_rows_take_a_few_statements_not_a_few_per_row(topics, db, ctx):
    from engage.subscriptions.api import ImportRowIn

    _known_addresses(db)
    rows = [ImportRowIn.model_validate(row).to_row() for row in mixed_rows(1000)]
    statements = []

    def note(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(_db.engine, "before_cursor_execute", note)
    try:
        report = importing.import_subscribers(db.session, rows)
        db.session.flush()
    finally:
        event.remove(_db.engine, "before_cursor_execute", note)
    assert (report.created, report.updated, len(report.rejected)) == (880, 20, 100)
    assert len(report.signups) == 800  # the pending rows: their emails are the caller's
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) <= 10, reads  # by chunks of 500 addresses, not by row
    if _db.engine.dialect.name == "sqlite":
        # SQLite's RETURNING has no order, so consent rows (which need their ids back) go in
        # one INSERT each there; subscribers, topic links and the rest are still in bulk.
        statements = [s for s in statements if not s.startswith("INSERT INTO consents ")]
    # Writes are grouped by what changes (the known rows' UPDATEs by their columns), so the
    # count depends on the mix of rows, not on how many there are: before, it was ~3,500.
    assert len(statements) <= 40, statements


def test_a_thousand_rows_through_the_api_are_answered_at_once(
    app, client, topics, db, editor, tasks
):
    _known_addresses(db)
    response = post_import(client, editor, mixed_rows(1000))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["created"], body["updated"], len(body["rejected"])) == (880, 20, 100)
    assert [r["index"] for r in body["rejected"]] == list(range(9, 1000, 10))
    # Every new pending row gets its confirmation email, through queue_email (the 16 known
    # ones were sent theirs minutes ago: the service's rate limit holds those back).
    names = queued_task_names(app)
    assert set(names) == {"engage.send_email"} and len(names) == 784


def test_the_same_rules_hold_within_one_batch_in_any_order(client, topics, db, editor):
    service.sign_up(db.session, "known@example.org", topics=None, digest="off", source="t")
    db.session.commit()
    rows = [
        {"email": "a@example.org", "confirmed": True, "consent": EVIDENCE},
        {"email": "known@example.org", "topics": ["groups-news"]},
        {"email": "A@example.org"},  # a repeat of row 0, in another spelling
        {"email": "b@example.org", "topics": ["nope"]},
        {"email": "b@example.org"},  # a repeat of a rejected row is still a repeat
    ]
    body = post_import(client, editor, rows).get_json()
    assert (body["created"], body["updated"]) == (1, 1)
    assert [r["index"] for r in body["rejected"]] == [2, 3, 4]
    assert "row 0" in body["rejected"][0]["reason"]
    assert body["rejected"][1]["reason"].startswith("topics:")
    assert "row 3" in body["rejected"][2]["reason"]
    known = db.session.scalar(select(Subscriber).where(Subscriber.email == "known@example.org"))
    db.session.refresh(known)
    assert [t.slug for t in known.topics] == ["groups-news"] and len(known.consents) == 2


# --- larger imports: a job ----------------------------------------------------------------------


def test_more_than_a_thousand_rows_answer_202_with_a_job(app, client, topics, db, editor, tasks):
    rows = mixed_rows(importing.SYNC_ROWS + 1)
    response = post_import(client, editor, rows)
    assert response.status_code == 202, response.get_data(as_text=True)
    job = response.get_json()
    assert job["status"] == "queued" and job["total"] == importing.SYNC_ROWS + 1
    assert job["processed"] == 0 and job["rejected"] == []
    assert response.headers["Location"] == job["url"]
    assert job["url"] == f"http://engage.test/api/v1/imports/{job['id']}"
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0  # not yet
    assert queued_task_names(app) == ["engage.subscriptions.run_import"]
    progress = client.get(f"/api/v1/imports/{job['id']}", headers=editor)
    assert progress.status_code == 200 and progress.get_json()["status"] == "queued"


@pytest.fixture
def small_jobs(monkeypatch):
    """Jobs from 6 rows on, so a test can follow one through several batches."""
    monkeypatch.setattr(importing, "SYNC_ROWS", 5)


def _run(db, job_id, batch_size=4, after_each=None):
    def checkpoint():
        db.session.commit()
        if after_each:
            after_each()

    importing.run_import_job(db.session, job_id, checkpoint=checkpoint, batch_size=batch_size)


def test_a_job_runs_in_batches_with_progress_and_the_same_answers(
    app, client, topics, db, editor, small_jobs, tasks, smtp_server
):
    service.sign_up(db.session, "known@example.org", topics=None, digest="off", source="t")
    db.session.commit()
    rows = [
        {"email": "new0@example.org"},
        {"email": "kept@example.org", "confirmed": True, "consent": EVIDENCE},
        {"email": "not-an-address"},
        {"email": "known@example.org", "digest": "daily"},
        {"email": "new1@example.org", "topics": ["no-such-topic"]},
        {"email": "NEW0@example.org"},  # a repeat of row 0, in the next batch
        {"email": "x@example.org\r\nBcc: victim@example.org"},
        {"email": "new2@example.org", "topics": ["groups-news"]},
        {"email": "late@example.org", "confirmed": True, "consent": {**EVIDENCE, "text": ""}},
    ]
    response = post_import(client, editor, rows)
    assert response.status_code == 202
    assert queued_task_names(app) == ["engage.subscriptions.run_import"]
    job_id = response.get_json()["id"]
    url = f"/api/v1/imports/{job_id}"
    seen = []
    _run(db, job_id, after_each=lambda: seen.append(client.get(url, headers=editor).get_json()))
    assert [(s["status"], s["processed"]) for s in seen] == [
        ("running", 4), ("running", 8), ("running", 9), ("done", 9)
    ]  # fmt: skip
    assert seen[0]["started_at"] and seen[0]["finished_at"] is None

    done = client.get(url, headers=editor).get_json()
    assert done["status"] == "done" and done["finished_at"] and done["error"] is None
    assert (done["created"], done["updated"]) == (3, 1)
    reasons = {r["index"]: r["reason"] for r in done["rejected"]}
    assert sorted(reasons) == [2, 4, 5, 6, 8]
    assert "email address" in reasons[2]
    assert reasons[4].startswith("topics:")
    assert "row 0" in reasons[5]  # repeats are caught across batches
    assert "line break" in reasons[6]
    assert "consent evidence" in reasons[8]
    assert [r["email"] for r in done["rejected"]][3] == "x@example.orgBcc: victim@example.org"

    emails = db.session.scalars(select(Subscriber.email).order_by(Subscriber.email)).all()
    assert emails == ["kept@example.org", "known@example.org", "new0@example.org",
                      "new2@example.org"]  # fmt: skip
    kept = db.session.scalar(select(Subscriber).where(Subscriber.email == "kept@example.org"))
    assert kept.status == "confirmed"
    # The rows are not kept once imported: only the counts and the reasons stay.
    assert db.session.get(importing.ImportJob, job_id).rows_json is None

    # Confirmation emails for the pending rows went through queue_email, sent at the commits.
    tasks.run()
    assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == [
        "new0@example.org", "new2@example.org"
    ]  # fmt: skip


def test_a_job_resumes_after_a_dead_worker_and_runs_once(client, topics, db, editor, small_jobs):
    rows = [{"email": f"r{i}@example.org"} for i in range(9)] + [{"email": "R1@example.org"}]
    job_id = post_import(client, editor, rows).get_json()["id"]

    class Killed(BaseException):
        """What a worker killed mid-job leaves: no except clause runs."""

    def die():
        raise Killed

    with pytest.raises(Killed):
        _run(db, job_id, after_each=die)  # dies right after its first commit
    db.session.rollback()
    job = db.session.get(importing.ImportJob, job_id)
    assert (job.status, job.processed, job.created) == ("running", 4, 4)
    assert importing.stalled_jobs(db.session, now=utcnow() + timedelta(minutes=11)) == [job_id]

    _run(db, job_id)  # the task again (redelivered, or re-sent by the stall sweep)
    db.session.expire_all()
    job = db.session.get(importing.ImportJob, job_id)
    assert (job.status, job.processed, job.created, job.rejected_count) == ("done", 10, 9, 1)
    [rejection] = importing.job_rejections(db.session, job_id)
    assert rejection.row_index == 9 and "row 1" in rejection.reason  # seen before the restart
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 9
    assert db.session.scalar(select(func.count()).select_from(Consent)) == 9

    _run(db, job_id)  # a finished job: nothing happens
    assert db.session.scalar(select(func.count()).select_from(Consent)) == 9
    assert importing.stalled_jobs(db.session, now=utcnow() + timedelta(hours=1)) == []


def test_a_second_worker_on_the_same_job_stops_at_once(client, topics, db, editor, small_jobs):
    rows = [{"email": f"r{i}@example.org"} for i in range(8)]
    job_id = post_import(client, editor, rows).get_json()["id"]
    calls = []

    def other_worker_runs_too():
        if not calls:
            calls.append(1)
            _run(db, job_id)  # finishes the job while the first is between batches

    _run(db, job_id, after_each=other_worker_runs_too)
    db.session.expire_all()
    job = db.session.get(importing.ImportJob, job_id)
    assert (job.status, job.processed, job.created) == ("done", 8, 8)
    assert db.session.scalar(select(func.count()).select_from(Consent)) == 8


def test_an_error_is_counted_the_batch_undone_and_the_job_resumed_then_failed(
    client, topics, db, editor, small_jobs
):
    rows = [{"email": f"r{i}@example.org"} for i in range(6)]
    job_id = post_import(client, editor, rows).get_json()["id"]
    url = f"/api/v1/imports/{job_id}"

    def commit_fails_once():
        # The task's commit losing the database once: the batch in flight is not kept.
        if not failed:
            failed.append(1)
            raise RuntimeError("server closed the connection unexpectedly")
        db.session.commit()

    failed = []
    with pytest.raises(RuntimeError):
        importing.run_import_job(db.session, job_id, checkpoint=commit_fails_once, batch_size=4)
    answer = client.get(url, headers=editor).get_json()
    assert (answer["status"], answer["processed"], answer["created"]) == ("queued", 0, 0)
    assert "tries again" in answer["error"]
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0

    _run(db, job_id)  # the retry carries on
    answer = client.get(url, headers=editor).get_json()
    assert (answer["status"], answer["processed"], answer["created"]) == ("done", 6, 6)

    # An error that keeps coming fails the job after JOB_MAX_FAILURES tries.
    job_id = post_import(client, editor, [{"email": f"s{i}@example.org"} for i in range(6)])
    job_id = job_id.get_json()["id"]

    def commit_never_works():
        if len(tries) % 2 == 0:  # the batch's commit fails; the failure note is committed
            tries.append(1)
            raise RuntimeError("disk full")
        tries.append(1)
        db.session.commit()

    tries = []
    for _ in range(importing.JOB_MAX_FAILURES):
        with pytest.raises(RuntimeError):
            importing.run_import_job(db.session, job_id, checkpoint=commit_never_works)
    answer = client.get(f"/api/v1/imports/{job_id}", headers=editor).get_json()
    assert answer["status"] == "failed" and answer["processed"] == 0
    assert "Send them again" in answer["error"]
    assert db.session.get(importing.ImportJob, job_id).rows_json is None


def test_awkward_values_in_a_job_are_rejected_with_reasons(client, topics, db, editor, small_jobs):
    # A NUL anywhere in the body is refused at the edge, naming each field, before any job
    # exists; a lone surrogate ("\ud800") makes the body invalid JSON (a 400; both in
    # tests/core/test_nul.py and tests/api/test_contract_findings.py).
    nul = [{"email": "x\x00@example.org"}, {"email": "ok@example.org", "consent": {"text": "\x00"}}]
    refused = client.post("/api/v1/subscribers", json={"subscribers": nul}, headers=editor)
    assert refused.status_code == 422
    assert set(refused.get_json()["error"]["fields"]) == {
        "subscribers.0.email",
        "subscribers.1.consent.text",
    }
    assert db.session.scalar(select(func.count()).select_from(importing.ImportJob)) == 0

    rows = [
        {"email": "用户@例子.广告"},
        {"email": "a" * 300 + "@example.org"},
        {"email": "fine@example.org", "topics": ["\u2028"]},
        {"email": "not an address"},
        {"email": "second@example.org", "digest": "weekly"},
        {"email": "third@example.org"},
    ]
    response = client.post(
        "/api/v1/subscribers",
        data=json.dumps({"subscribers": rows}),
        content_type="application/json",
        headers=editor,
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    job_id = response.get_json()["id"]
    _run(db, job_id)
    done = client.get(f"/api/v1/imports/{job_id}", headers=editor).get_json()
    assert done["status"] == "done"
    assert done["created"] + len(done["rejected"]) == len(rows)
    for rejection in done["rejected"]:
        assert rejection["reason"]


def test_the_import_progress_needs_an_editor_key_and_a_real_id(client, topics, db, editor):
    assert client.get("/api/v1/imports/1").status_code == 401
    _, secret = create_api_key(db.session, "mod", "moderator")
    db.session.commit()
    moderator = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/imports/1", headers=moderator).status_code == 403
    for job_id in ("999999", str(2**31), str(10**30)):
        response = client.get(f"/api/v1/imports/{job_id}", headers=editor)
        assert response.status_code == 404
        ErrorResponse.model_validate(response.get_json())


def test_job_answers_match_the_openapi_document(client, topics, db, editor, small_jobs):
    from jsonschema import Draft202012Validator

    document = client.get("/api/v1/openapi.json").get_json()

    def validate(method, path, status, response):
        assert str(response.status_code) == status, response.get_data(as_text=True)
        answer = document["paths"][path][method]["responses"][status]
        schema = answer["content"]["application/json"]["schema"]
        Draft202012Validator({**schema, "components": document["components"]}).validate(
            response.get_json()
        )

    rows = [{"email": f"r{i}@example.org"} for i in range(6)] + [{"email": "bad"}]
    accepted = post_import(client, editor, rows)
    validate("post", "/api/v1/subscribers", "202", accepted)
    _run(db, accepted.get_json()["id"])
    validate(
        "get",
        "/api/v1/imports/{job_id}",
        "200",
        client.get(f"/api/v1/imports/{accepted.get_json()['id']}", headers=editor),
    )
