"""The whole send on real parts: Celery worker processes, the broker, the database, an SMTP
server. Every wait is bounded; the worker settings are in conftest.SEND_SETTINGS."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
from sqlalchemy import select

from engage.newsletters import sending, service
from engage.newsletters.models import Newsletter
from engage.sending.models import Delivery
from engage.subscriptions import service as subscriptions
from engage.subscriptions.models import Subscriber
from tests.newsletters.conftest import (
    add_newsletter,
    add_readers,
    add_topic,
    delivery_statuses,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker


def launch(db, count: int) -> tuple[int, list[str]]:
    """`count` readers and a newsletter for them, sent now (committed)."""
    topic = add_topic(db.session)
    addresses = add_readers(db.session, count, [topic])
    add_readers(db.session, 2, [topic], status="pending")  # never sent to
    newsletter = add_newsletter(db.session, [topic])
    service.send_now(db.session, newsletter)
    newsletter_id = newsletter.id
    db.session.commit()
    # Touch nothing after the commit: on SQLite a new transaction would hold the write lock
    # while the test waits, and the workers could not mark anything sent.
    return newsletter_id, addresses


def status(db, newsletter_id: int) -> str:
    # Read in a short transaction of its own: a fresh snapshot, and on SQLite (where every
    # transaction takes the write lock) the workers are not kept waiting while we poll.
    db.session.rollback()
    value = db.session.get(Newsletter, newsletter_id, populate_existing=True).status
    db.session.rollback()
    return value


def statuses(db, newsletter_id: int) -> Counter:
    db.session.rollback()
    value = delivery_statuses(db.session, newsletter_id)
    db.session.rollback()
    return value


def wait_for_status(db, newsletter_id: int, wanted: str, timeout: float = 40.0) -> None:
    wait_until(
        lambda: status(db, newsletter_id) == wanted,
        timeout,
        message=lambda: f"newsletter never became {wanted}: {statuses(db, newsletter_id)}",
    )


def received(smtp_server) -> Counter:
    return Counter(rcpt for message in smtp_server.messages for rcpt in message.rcpt_tos)


def tick(sender) -> None:
    """What beat does every few seconds."""
    sender.extensions["celery"].send_task("engage.newsletters.tick")


def test_every_reader_gets_exactly_one_message_with_list_headers(live, start_worker, smtp_server):
    start_worker()
    newsletter_id, addresses = launch(live, 25)
    wait_for_status(live, newsletter_id, "sent")

    assert received(smtp_server) == Counter(addresses)
    assert statuses(live, newsletter_id) == {"sent": 25}
    by_address = {
        s.email: s
        for s in live.session.scalars(select(Subscriber).where(Subscriber.email.in_(addresses)))
    }
    for message in smtp_server.messages:
        [to] = message.rcpt_tos
        url = f"http://engage.test/u/{by_address[to].unsubscribe_id}"
        assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in message.raw
        assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in message.raw
        assert b"\r\nList-Id: Engage <news.engage.test>\r\n" in message.raw
        msg = message.message
        assert msg["Subject"] == "News from the groups"
        assert msg["To"] == to
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert f"Unsubscribe: {url}" in text
        assert f'href="{url}"' in html
        assert "%%" not in text and "%%" not in html
        assert 'href="https://example.org/groups/1"' in html  # no link rewriting
    live.session.rollback()
    sent_at = live.session.scalars(
        select(Delivery.smtp_reply).where(Delivery.newsletter_id == newsletter_id)
    ).all()
    assert all(reply.startswith("250 ") for reply in sent_at)
    assert live.session.get(Newsletter, newsletter_id).finished_at is not None


def test_temporary_failures_and_drops_still_deliver_everything_once(
    live, start_worker, smtp_server
):
    smtp_server.faults(temporary=1 / 3, drop=0.08, seed=7)
    start_worker()
    newsletter_id, addresses = launch(live, 60)
    wait_for_status(live, newsletter_id, "sent", timeout=60)

    assert received(smtp_server) == Counter(addresses)
    assert smtp_server.faults_answered > 15
    assert statuses(live, newsletter_id) == {"sent": 60}


def test_a_killed_worker_loses_nobody_and_repeats_at_most_one(
    live, start_worker, smtp_server, sender
):
    smtp_server.slow(0.03)
    first = start_worker()
    newsletter_id, addresses = launch(live, 80)
    smtp_server.wait_for(12)
    first.process.kill()  # SIGKILL, mid-send
    first.process.wait(10)
    assert status(live, newsletter_id) == "sending"

    start_worker()
    deadline = time.monotonic() + 60
    while status(live, newsletter_id) != "sent":
        assert time.monotonic() < deadline, statuses(live, newsletter_id)
        tick(sender)  # beat: release lapsed leases, send batch tasks where nobody works
        time.sleep(1)

    counts = received(smtp_server)
    assert set(counts) == set(addresses)  # nobody lost
    assert sum(counts.values()) - len(addresses) <= 1  # at most the message in flight
    assert statuses(live, newsletter_id) == {"sent": 80}


def test_a_reader_who_unsubscribes_mid_send_gets_nothing_more(live, start_worker, smtp_server):
    smtp_server.slow(0.05)
    start_worker()
    newsletter_id, addresses = launch(live, 20)
    smtp_server.wait_for(3)
    leaving = addresses[-2:]
    for subscriber in live.session.scalars(select(Subscriber).where(Subscriber.email.in_(leaving))):
        subscriptions.unsubscribe(live.session, subscriber)
    live.session.commit()
    wait_for_status(live, newsletter_id, "sent")

    counts = received(smtp_server)
    assert not set(leaving) & set(counts)
    assert counts == Counter(addresses[:-2])
    assert statuses(live, newsletter_id) == {"sent": 18, "skipped": 2}


def test_pause_and_resume_continue_where_they_stopped(live, start_worker, smtp_server):
    smtp_server.slow(0.05)
    start_worker()
    newsletter_id, addresses = launch(live, 30)
    smtp_server.wait_for(5)
    live.session.rollback()
    service.pause(live.session, live.session.get(Newsletter, newsletter_id))
    live.session.commit()
    wait_until(lambda: "claimed" not in statuses(live, newsletter_id), 20)
    stopped_at = len(smtp_server.messages)
    assert stopped_at < 30
    time.sleep(0.5)
    assert len(smtp_server.messages) == stopped_at  # nothing goes out while paused
    assert status(live, newsletter_id) == "paused"

    service.resume(live.session, live.session.get(Newsletter, newsletter_id))
    live.session.commit()
    wait_for_status(live, newsletter_id, "sent")
    assert received(smtp_server) == Counter(addresses)


def test_tasks_delivered_twice_send_nothing_twice(live, start_worker, smtp_server, sender):
    worker = start_worker()
    newsletter_id, addresses = launch(live, 20)
    celery = sender.extensions["celery"]
    celery.send_task("engage.newsletters.tick")  # the start, delivered again
    wait_until(lambda: status(live, newsletter_id) in ("sending", "sent"), 20)
    for _ in range(3):  # batch tasks delivered again
        celery.send_task("engage.newsletters.send_batch", args=[newsletter_id])
    wait_for_status(live, newsletter_id, "sent")
    # 2 batch tasks from the start + 3 repeats, all done.
    finished = re.compile(r"engage\.newsletters\.send_batch\[[^\]]+\] succeeded")
    wait_until(lambda: len(finished.findall(worker.log())) >= 5, 20)

    assert received(smtp_server) == Counter(addresses)
    # And once more, in this process, after the end.
    assert sending.send_batch(live.session, newsletter_id).sent == 0
    assert received(smtp_server) == Counter(addresses)


def test_a_permanent_failure_is_final_and_a_hard_bounce(live, start_worker, smtp_server):
    smtp_server.script("550 5.1.1 No such user here")
    start_worker()
    newsletter_id, addresses = launch(live, 5)
    wait_for_status(live, newsletter_id, "sent")

    assert statuses(live, newsletter_id) == {"sent": 4, "failed": 1}
    [failure] = service.failures(live.session, newsletter_id)
    assert failure["smtp_reply"] == "550 5.1.1 No such user here"
    bounced = live.session.scalar(
        select(Subscriber)
        .join(Delivery, Delivery.subscriber_id == Subscriber.id)
        .where(Delivery.newsletter_id == newsletter_id, Delivery.status == "failed")
    )
    assert bounced.hard_bounces == 1
    # "No such user" is about the address: suppressed at once (engage/sending/bounces.py).
    assert bounced.status == "unsubscribed"
    assert subscriptions.is_suppressed(live.session, bounced.email)
    assert received(smtp_server) == Counter(a for a in addresses if a != bounced.email)


def test_the_same_refusal_for_many_readers_pauses_the_send_with_the_reason(
    live, start_worker, smtp_server
):
    smtp_server.script(*["451 4.7.0 Server busy"] * 5)  # SEND_PAUSE_AFTER_FAILURES=5
    start_worker()
    newsletter_id, addresses = launch(live, 12)
    wait_for_status(live, newsletter_id, "paused")
    live.session.rollback()
    newsletter = live.session.get(Newsletter, newsletter_id)
    assert "5 different readers in a row the same temporary refusal" in newsletter.paused_reason
    assert "451 4.7.0 Server busy" in newsletter.paused_reason
    assert smtp_server.messages == []
    # The batch hands its claimed rows back just after the pause: wait for that, then every
    # row is pending (temporary: not failures).
    wait_until(lambda: statuses(live, newsletter_id) == {"pending": 12}, 20)

    service.resume(live.session, newsletter)
    live.session.commit()
    wait_for_status(live, newsletter_id, "sent")
    assert received(smtp_server) == Counter(addresses)


def test_a_full_mailbox_defers_one_reader_while_everyone_else_gets_theirs(
    live, start_worker, smtp_server
):
    topic = add_topic(live.session)
    addresses = add_readers(live.session, 30, [topic])
    full = addresses[3]
    smtp_server.refuse_recipient(full, f"452 4.2.2 Mailbox full <{full}>")
    newsletter = add_newsletter(live.session, [topic])
    service.send_now(live.session, newsletter)
    newsletter_id = newsletter.id
    live.session.commit()
    start_worker()

    wait_for_status(live, newsletter_id, "sent", timeout=60)
    assert received(smtp_server) == Counter(a for a in addresses if a != full)
    assert statuses(live, newsletter_id) == {"sent": 29, "failed": 1}
    live.session.rollback()
    newsletter = live.session.get(Newsletter, newsletter_id)
    assert newsletter.paused_reason == ""  # one reader's mailbox never pauses a send
    row = live.session.scalar(
        select(Delivery).where(Delivery.newsletter_id == newsletter_id, Delivery.status == "failed")
    )
    assert row.bounce == "soft" and row.attempts == 8  # SEND_DEFER_ATTEMPTS
    assert row.smtp_reply.startswith("452 4.2.2 Mailbox full")
    assert full not in row.smtp_reply  # the address is redacted in what is stored
    counts = service.counts(live.session, newsletter_id)
    assert counts["bounced"] == 1 and counts["deferred"] == 0
    live.session.rollback()


def test_connection_failures_pause_the_send_and_resume_continues_at_once(
    live, start_worker, smtp_server
):
    smtp_server.script(*["drop"] * 5)  # SEND_PAUSE_AFTER_FAILURES=5, all about the connection
    start_worker()
    newsletter_id, addresses = launch(live, 8)
    wait_for_status(live, newsletter_id, "paused")
    live.session.rollback()
    newsletter = live.session.get(Newsletter, newsletter_id)
    assert "5 failed attempts in a row to reach the mail server" in newsletter.paused_reason
    wait_until(lambda: statuses(live, newsletter_id) == {"pending": 8}, 20)

    service.resume(live.session, newsletter)
    live.session.commit()
    wait_for_status(live, newsletter_id, "sent", timeout=30)
    assert received(smtp_server) == Counter(addresses)


def test_what_the_server_says_is_stored_and_logged_without_addresses(
    live, start_worker, smtp_server
):
    smtp_server.script(
        "451 4.2.2 <someone@example.org>: mailbox full",
        "550 5.1.1 <someone@example.org>: Recipient address rejected",
    )
    worker = start_worker()
    newsletter_id, _ = launch(live, 3)
    wait_for_status(live, newsletter_id, "sent")

    [failure] = service.failures(live.session, newsletter_id)
    assert failure["smtp_reply"] == "550 5.1.1 <s•••@example.org>: Recipient address rejected"
    log = worker.log()
    assert "s•••@example.org>: mailbox full" in log  # the retry was logged...
    assert "someone@example.org" not in log  # ...without the address
