"""The reader's path: sign up, read the confirmation email, confirm, get the welcome email."""

import re

from sqlalchemy import select

from engage.subscriptions.consent import SIGN_UP, text_version
from engage.subscriptions.models import Consent, Subscriber
from tests.conftest import csrf_token

LINK = re.compile(r"http://engage\.test/confirm/[A-Za-z0-9_.\-]+")


def sign_up(client, email, page="/subscribe", **fields):
    data = {
        "csrf_token": csrf_token(client, page),
        "email": email,
        "topics": fields.pop("topics", ["newsletter"]),
        "digest": fields.pop("digest", "off"),
        "source": fields.pop("source", page),
        **fields,
    }
    return client.post("/subscribe", data=data)


def confirmation_link(message) -> str:
    text = message.message.get_body(("plain",)).get_content()
    match = LINK.search(text)
    assert match, text
    return match.group(0).removeprefix("http://engage.test")


def test_sign_up_creates_a_pending_subscriber_with_consent_evidence(client, topics, db):
    response = sign_up(client, "Reader@Example.org", digest="weekly", source="/articles/what-is")
    assert response.status_code == 303
    assert response.headers["Location"] == "/subscribe/check-your-email"
    subscriber = db.session.scalar(select(Subscriber))
    assert subscriber.email == "reader@example.org"
    assert subscriber.status == "pending"
    assert subscriber.digest == "weekly"
    assert [t.slug for t in subscriber.topics] == ["newsletter"]
    consent = db.session.scalar(select(Consent))
    assert consent.source == "form:/articles/what-is"
    # The words the form showed, exactly, and a version naming those words.
    assert consent.text == SIGN_UP.text
    assert consent.text in client.get("/subscribe").get_data(as_text=True)
    assert consent.version == text_version(SIGN_UP.text)
    assert consent.consented_at
    assert consent.confirmation_sent_at is None  # queued; set once a server accepts it
    assert consent.confirmed_at is None


def test_confirmation_email_arrives_without_list_headers(client, topics, tasks, smtp_server):
    sign_up(client, "reader@example.org")
    assert tasks.run() == ["engage.send_email"]
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["reader@example.org"]
    message = received.message
    assert message["Subject"] == "Please confirm your subscription to Engage"
    assert message["List-Unsubscribe"] is None  # transactional: no list headers
    assert message.get_body(("html",)) is not None
    assert confirmation_link(received).startswith("/confirm/")


def test_the_confirmation_link_asks_before_confirming(client, topics, tasks, smtp_server, db):
    sign_up(client, "reader@example.org")
    tasks.run()
    link = confirmation_link(smtp_server.messages[0])
    page = client.get(link)  # what a link scanner does
    assert page.status_code == 200
    assert "Yes, subscribe me" in page.get_data(as_text=True)
    assert db.session.scalar(select(Subscriber.status)) == "pending"


def test_confirming_subscribes_and_sends_the_welcome_email(client, topics, tasks, smtp_server, db):
    sign_up(client, "reader@example.org")
    tasks.run()
    link = confirmation_link(smtp_server.messages[0])
    response = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert response.status_code == 200
    assert "You are subscribed" in response.get_data(as_text=True)
    subscriber = db.session.scalar(select(Subscriber))
    assert subscriber.status == "confirmed" and subscriber.confirmed_at is not None
    assert subscriber.consents[0].confirmed_at is not None

    smtp_server.reset()
    assert tasks.run() == ["engage.send_email"]
    [welcome] = smtp_server.messages
    assert welcome.message["Subject"] == "Welcome to Engage"
    raw = welcome.raw.decode()
    expected = f"List-Unsubscribe: <http://engage.test/u/{subscriber.unsubscribe_id}>\r\n"
    assert expected in raw  # on one line, starting with "<": never folded or encoded
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    assert welcome.message["List-Id"]
    text = welcome.message.get_body(("plain",)).get_content()
    assert f"http://engage.test/u/{subscriber.unsubscribe_id}" in text  # visible link too


def test_a_used_confirmation_link_says_it_is_already_done(client, topics, tasks, smtp_server):
    sign_up(client, "reader@example.org")
    tasks.run()
    link = confirmation_link(smtp_server.messages[0])
    client.post(link, data={"csrf_token": csrf_token(client, link)})
    again = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert again.status_code == 200
    assert "You were already confirmed" in again.get_data(as_text=True)
    smtp_server.reset()
    tasks.run()
    assert len(smtp_server.messages) == 1  # one welcome, not two


def test_every_address_gets_the_same_answer(client, topics, db):
    from engage.subscriptions import service

    service.sign_up(db.session, "pending@example.org", topics=None, digest="off", source="t")
    confirmed = service.sign_up(
        db.session, "confirmed@example.org", topics=None, digest="off", source="t"
    )
    service.confirm(db.session, confirmed.subscriber.id, confirmed.consent.id)
    gone = service.sign_up(db.session, "gone@example.org", topics=None, digest="off", source="t")
    service.confirm(db.session, gone.subscriber.id, gone.consent.id)
    service.unsubscribe(db.session, gone.subscriber)
    db.session.commit()

    answers = set()
    for address in [
        "new@example.org",
        "pending@example.org",
        "confirmed@example.org",
        "gone@example.org",
    ]:
        response = sign_up(client, address)
        follow = client.get(response.headers["Location"])
        answers.add(
            (response.status_code, response.headers["Location"], follow.get_data(as_text=True))
        )
    assert len(answers) == 1


def test_a_confirmed_subscriber_gets_their_preferences_link_not_a_change(
    client, topics, tasks, smtp_server, db
):
    from datetime import timedelta

    from engage.subscriptions import service
    from engage.types import utcnow

    outcome = service.sign_up(
        db.session, "reader@example.org", topics=["newsletter"], digest="off", source="t"
    )
    service.confirm(db.session, outcome.subscriber.id, outcome.consent.id)
    outcome.subscriber.last_confirmation_sent_at = utcnow() - timedelta(minutes=11)
    db.session.commit()
    sign_up(client, "reader@example.org", digest="daily", topics=["groups-news"])
    tasks.run()
    [received] = smtp_server.messages
    assert received.message["Subject"] == "You are already subscribed to Engage"
    db.session.expire_all()
    subscriber = db.session.scalar(select(Subscriber))
    assert subscriber.digest == "off"  # a stranger's form cannot change their choices
    assert [t.slug for t in subscriber.topics] == ["newsletter"]


def test_the_honeypot_looks_like_success_and_records_nothing(client, topics, db, tasks):
    response = sign_up(client, "bot@example.org", website="http://spam.example")
    assert response.status_code == 303
    assert response.headers["Location"] == "/subscribe/check-your-email"
    assert db.session.scalar(select(Subscriber)) is None
    assert tasks.run() == []


def test_an_internationalised_address_gets_its_confirmation(client, topics, tasks, smtp_server):
    assert sign_up(client, "Zoë@Exämple.org").status_code == 303
    tasks.run()
    [received] = smtp_server.messages
    # The Unicode local part travels with SMTPUTF8; the domain goes out in its IDNA form.
    assert received.rcpt_tos == ["zoë@xn--exmple-cua.org"]
    assert received.message["To"] == "zoë@xn--exmple-cua.org"


def test_an_unreadable_page_address_still_signs_up(client, topics, db):
    # urllib raises ValueError on "http://[::1": the sign-up counts, the page is unknown.
    response = sign_up(client, "reader@example.org", source="http://[::1")
    assert response.status_code == 303
    assert db.session.scalar(select(Consent.source)) == "form:/subscribe"
