"""Sign-up, confirmation and welcome emails delivered by a real Celery worker."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engage.extensions import db, limiter
from engage.subscriptions.models import Subscriber, Topic
from tests.conftest import csrf_token

pytestmark = pytest.mark.worker

CONFIRM_LINK = re.compile(r"http://engage\.test/confirm/[A-Za-z0-9_.\-]+")


@pytest.fixture
def signup_client(worker_app, committed):
    """A browser-like client of the worker app, with fresh rate limits and committed topics."""
    with worker_app.app_context():
        limiter.reset()
        db.session.add_all(
            [
                Topic(slug="newsletter", name="The newsletter", is_default=True),
                Topic(slug="groups-news", name="News about support groups"),
            ]
        )
        db.session.commit()
        db.session.remove()
    with worker_app.test_client() as client:
        yield client
    with worker_app.app_context():
        limiter.reset()


def test_confirmation_and_welcome_emails_come_from_the_worker(
    worker_app, signup_client, smtp_server
):
    client = signup_client
    response = client.post(
        "/subscribe",
        data={
            "csrf_token": csrf_token(client, "/subscribe"),
            "email": "Reader@Example.org",
            "topics": ["newsletter", "groups-news"],
            "digest": "weekly",
            "source": "/articles/finding-company",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/subscribe/check-your-email"

    [confirmation] = smtp_server.wait_for(1)
    assert confirmation.rcpt_tos == ["reader@example.org"]
    message = confirmation.message
    assert message["Subject"] == "Please confirm your subscription to Engage"
    assert message["List-Unsubscribe"] is None  # transactional
    text = message.get_body(("plain",)).get_content()
    match = CONFIRM_LINK.search(text)
    assert match, text
    link = match.group(0).removeprefix("http://engage.test")

    # Opening the link changes nothing; the page's button confirms.
    assert "Yes, subscribe me" in client.get(link).get_data(as_text=True)
    with worker_app.app_context():
        assert db.session.scalar(select(Subscriber.status)) == "pending"
        db.session.remove()
    confirmed = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert confirmed.status_code == 200
    assert "You are subscribed" in confirmed.get_data(as_text=True)

    with worker_app.app_context():
        subscriber = db.session.scalar(select(Subscriber))
        assert subscriber.status == "confirmed"
        unsubscribe_id = subscriber.unsubscribe_id
        db.session.remove()

    _, welcome = smtp_server.wait_for(2)
    assert welcome.rcpt_tos == ["reader@example.org"]
    assert welcome.message["Subject"] == "Welcome to Engage"
    # On one line, starting with "<": never folded or RFC 2047-encoded on the way.
    expected = f"\r\nList-Unsubscribe: <http://engage.test/u/{unsubscribe_id}>\r\n".encode()
    assert expected in welcome.raw
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in welcome.raw
    assert welcome.message["List-Id"]
    assert len(smtp_server.messages) == 2


def test_a_rejected_sign_up_sends_nothing(worker_app, signup_client, smtp_server, worker):
    client = signup_client
    token = csrf_token(client, "/subscribe")
    refused = client.post("/subscribe", data={"csrf_token": token, "email": "not an address"})
    assert refused.status_code == 400
    # The worker takes tasks in order: once this one's email arrives, any other would have too.
    client.post("/subscribe", data={"csrf_token": token, "email": "second@example.org"})
    received = smtp_server.wait_for(1)
    assert [r.rcpt_tos for r in received] == [["second@example.org"]]
