"""Digests through the send pipeline: the API, the bytes on the wire, the digest-only
one-click unsubscribe, and real workers and parallel runs over committed rows."""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engage.accounts.service import create_api_key
from engage.community import digests
from engage.community.models import DigestEdition
from engage.extensions import db as _db
from engage.sending.models import Delivery
from engage.subscriptions.models import Subscriber
from engage.types import utcnow
from tests.digests.conftest import add_group, add_reader
from tests.newsletters.conftest import add_topic
from tests.support.waiting import wait_until


@pytest.fixture
def editor(ctx, db):
    _, secret = create_api_key(db.session, "digest key", "editor")
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def received(smtp_server) -> Counter:
    return Counter(rcpt for message in smtp_server.messages for rcpt in message.rcpt_tos)


def test_the_api_sends_due_digests_with_list_headers_once(client, db, editor, tasks, smtp_server):
    now = utcnow()
    group = add_group(db.session, now - timedelta(hours=1), name="Tuesday circle")
    topic = add_topic(db.session)
    readers = [
        add_reader(db.session, "daily", confirmed_at=now - timedelta(days=2), topics=[topic])
        for _ in range(3)
    ]
    add_reader(db.session, "weekly", confirmed_at=now - timedelta(days=2))
    db.session.commit()

    answer = client.post("/api/v1/digests/run", json={"frequency": "daily"}, headers=editor)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["frequency"] == "daily" and body["queued"] == 3 and body["renders"] == 1
    assert body["counts"] == {
        "total": 3,
        "sent": 0,
        "failed": 0,
        "pending": 3,
        "deferred": 0,
        "bounced": 0,
        "skipped": 0,
    }
    assert "engage.digests.send_batch" in tasks.run()

    again = client.post("/api/v1/digests/run", json={"frequency": "daily"}, headers=editor)
    assert again.get_json()["edition_id"] == body["edition_id"]
    assert again.get_json()["queued"] == 0
    assert again.get_json()["counts"]["sent"] == 3
    tasks.run()
    assert received(smtp_server) == Counter(r.email for r in readers)

    by_address = {r.email: r for r in readers}
    for message in smtp_server.messages:
        reader = by_address[message.rcpt_tos[0]]
        url = f"http://engage.test/u/{reader.unsubscribe_id}?list=digest"
        assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in message.raw
        assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in message.raw
        assert b"\r\nList-Id: Engage digest <digest.engage.test>\r\n" in message.raw
        msg = message.message
        assert msg["Subject"] == "Engage digest: 1 new support group"
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert f"Stop this digest ({url})" in text  # it stops the digest only
        assert ">Stop this digest</a>" in html and "Unsubscribe" not in html + text
        assert re.search(r"<h1[^>]*>Your daily digest</h1>", html)
        assert len(re.findall(r"<h1\b", html)) == 1
        view = re.search(
            r'<a href="(http://engage\.test/digests/view/[^"]+)"[^>]*>View in browser<', html
        )
        # A long link goes to a line of its own rather than being broken.
        assert view and f"View in browser ({view.group(1)})" in " ".join(text.split())

        assert "Manage your preferences (http://engage.test/preferences/" in text
        assert f"http://engage.test/groups/{group.slug}" in text
        assert f'href="http://engage.test/groups/{group.slug}"' in html
        assert "complement, not replace, professional care" in text
        assert "%%" not in text and "%%" not in html
        assert "fonts.googleapis" not in html

    # The web copy opens for anyone holding the link: the listings, no per-reader link.
    page = client.get(view.group(1).removeprefix("http://engage.test"))
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert group.name in body and "Your daily digest" in body
    assert "Stop this digest" not in body and "Manage your preferences" not in body
    assert "%%" not in body and "View in browser" not in body
    assert "sandbox" in page.headers["Content-Security-Policy"]
    broken = view.group(1).removeprefix("http://engage.test")[:-3] + "xyz"
    assert client.get(broken).status_code == 404
    assert client.get("/digests/view/not-a-token").status_code == 404

    # The digest's one-click unsubscribe stops the digest, and only the digest.
    reader = readers[0]
    url = f"/u/{reader.unsubscribe_id}?list=digest"
    page = client.get(url)
    assert b"Stop the digest" in page.data
    done = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    db.session.refresh(reader)
    assert (reader.status, reader.digest, [t.slug for t in reader.topics]) == (
        "confirmed",
        "off",
        [topic.slug],
    )


def test_the_api_refuses_bad_frequencies_and_other_roles(client, db, editor):
    bad = client.post("/api/v1/digests/run", json={"frequency": "hourly"}, headers=editor)
    assert bad.status_code == 422
    _, secret = create_api_key(db.session, "moderator key", "moderator")
    db.session.commit()
    refused = client.post(
        "/api/v1/digests/run",
        json={"frequency": "weekly"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert refused.status_code == 403
    assert client.post("/api/v1/digests/run", json={"frequency": "weekly"}).status_code == 401


def test_a_digest_reader_with_no_topics_who_stops_the_digest_is_unsubscribed(client, db):
    reader = add_reader(db.session, "weekly", confirmed_at=utcnow())
    db.session.commit()
    answer = client.post(
        f"/u/{reader.unsubscribe_id}?list=digest", data={"List-Unsubscribe": "One-Click"}
    )
    assert answer.status_code == 200
    db.session.refresh(reader)
    assert (reader.status, reader.digest) == ("unsubscribed", "off")


def test_preferences_store_the_digest_interests(client, db):
    from engage.subscriptions.emails import preferences_url
    from tests.conftest import csrf_token

    reader = add_reader(db.session, "weekly", confirmed_at=utcnow(), interests={"regions": ["X"]})
    db.session.commit()
    url = preferences_url(reader).removeprefix("http://engage.test")
    page = client.get(url).get_data(as_text=True)
    assert 'name="purposes" value="anxiety"' in page and 'value="X" checked' in page
    form = {
        "csrf_token": csrf_token(client, url),
        "digest": "daily",
        "interests": "1",
        "purposes": ["anxiety", "bereavement"],
        "regions": ["Leeds"],
        "region_other": " York ",
    }
    assert client.post(url, data=form).status_code == 200
    db.session.refresh(reader)
    assert reader.interests == {
        "purposes": ["anxiety", "bereavement"],
        "regions": ["Leeds", "York"],
    }
    assert reader.digest == "daily"
    form = {**form, "purposes": ["not-a-condition"], "csrf_token": csrf_token(client, url)}
    assert client.post(url, data=form).status_code == 400


# --- committed rows: real workers and parallel runs ----------------------------------------


def _committed_readers(session, count: int) -> list[str]:
    now = utcnow()
    add_group(session, now - timedelta(hours=2))
    readers = [
        add_reader(session, "daily", confirmed_at=now - timedelta(days=1)) for _ in range(count)
    ]
    addresses = [r.email for r in readers]
    session.commit()
    return addresses


def _edition_state(session) -> tuple[Counter, bool]:
    session.rollback()  # a fresh snapshot; on SQLite, no write lock held while waiting
    statuses = Counter(session.scalars(select(Delivery.status)))
    finished = session.scalar(select(func.count()).where(DigestEdition.finished_at.is_not(None)))
    session.rollback()
    return statuses, bool(finished)


@pytest.mark.worker
def test_a_real_worker_sends_each_digest_once_even_when_the_run_is_sent_twice(
    live, start_worker, sender, smtp_server
):
    addresses = _committed_readers(live.session, 12)
    worker = start_worker()
    celery = sender.extensions["celery"]
    celery.send_task("engage.digests.run", args=["daily"])
    celery.send_task("engage.digests.run", args=["daily"])  # two beats, or a redelivery

    wait_until(
        lambda: _edition_state(live.session) == (Counter({"sent": 12}), True),
        40,
        message=f"digest never finished: {_edition_state(live.session)}\n{worker.log()}",
    )
    finished = re.compile(r"engage\.digests\.run\[[^\]]+\] succeeded")
    wait_until(lambda: len(finished.findall(worker.log())) >= 2, 20)
    assert received(smtp_server) == Counter(addresses)
    assert all(b"?list=digest>\r\n" in m.raw for m in smtp_server.messages)


def test_two_runs_in_parallel_make_each_row_once(live, sender):
    _committed_readers(live.session, 40)
    results, errors = [], []

    def one_run():
        try:
            with sender.app_context():
                results.append(digests.run(_db.session, "daily", batch_size=7, dispatch=False))
                _db.session.remove()
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors
    assert sum(r.queued for r in results) == 40
    assert len({r.edition_id for r in results}) == 1
    live.session.rollback()
    per_reader = Counter(live.session.scalars(select(Delivery.subscriber_id)))
    assert len(per_reader) == 40 and set(per_reader.values()) == {1}
    marks = live.session.scalars(select(Subscriber.last_digest_at)).all()
    assert all(mark is not None for mark in marks)
    live.session.rollback()
