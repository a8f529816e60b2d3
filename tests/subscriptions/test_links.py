"""What a reader gets from the links in our emails, and from bad input on the forms."""

import json
from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from engage.subscriptions import emails, service
from engage.subscriptions.models import Subscriber, Suppression
from engage.tokens import make_link_token
from tests.conftest import csrf_token
from tests.subscriptions.test_signup_flow import sign_up


@pytest.fixture
def reader(ctx, db, topics):
    outcome = service.sign_up(
        db.session, "reader@example.org", topics=["newsletter"], digest="weekly", source="t"
    )
    service.confirm(db.session, outcome.subscriber.id, outcome.consent.id)
    db.session.commit()
    return outcome.subscriber


def status_of(db, subscriber_id):
    db.session.expire_all()
    return db.session.get(Subscriber, subscriber_id).status


def test_one_click_post_exactly_as_gmail_sends_it(app, reader, db):
    # No cookie, no CSRF token, no session: a fresh client, the RFC 8058 body and nothing else.
    with app.test_client(use_cookies=False) as mail_client:
        response = mail_client.post(
            f"/u/{reader.unsubscribe_id}",
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert status_of(db, reader.id) == "unsubscribed"


def test_one_click_post_as_multipart(app, reader, db):
    with app.test_client(use_cookies=False) as mail_client:
        response = mail_client.post(
            f"/u/{reader.unsubscribe_id}",
            data={"List-Unsubscribe": "One-Click"},
            content_type="multipart/form-data",
        )
    assert response.status_code == 200
    assert status_of(db, reader.id) == "unsubscribed"


def test_get_on_the_unsubscribe_link_changes_nothing(client, reader, db):
    page = client.get(f"/u/{reader.unsubscribe_id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Unsubscribe from everything" in text
    assert "/preferences/" in text
    assert status_of(db, reader.id) == "confirmed"


def test_the_unsubscribe_button_works_without_javascript(client, reader, db):
    response = client.post(f"/u/{reader.unsubscribe_id}")
    assert response.status_code == 200
    assert "You are unsubscribed" in response.get_data(as_text=True)
    assert status_of(db, reader.id) == "unsubscribed"


def test_unknown_unsubscribe_ids_are_a_clear_404(client, reader):
    assert client.get("/u/not-a-real-id").status_code == 404
    one_click = client.post("/u/not-a-real-id", data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 404
    assert client.get("/u/" + "x" * 500).status_code == 404


def prefs_url(subscriber):
    token = make_link_token("preferences", {"s": subscriber.id}, subscriber.link_key)
    return f"/preferences/{token}"


def test_preference_centre_changes_topics_and_digest(client, reader, db):
    url = prefs_url(reader)
    page = client.get(url).get_data(as_text=True)
    assert "reader@example.org" in page
    response = client.post(
        url,
        data={"csrf_token": csrf_token(client, url), "topics": ["groups-news"], "digest": "daily"},
    )
    assert response.status_code == 200
    assert "Your choices are saved." in response.get_data(as_text=True)
    db.session.expire_all()
    subscriber = db.session.get(Subscriber, reader.id)
    assert [t.slug for t in subscriber.topics] == ["groups-news"]
    assert subscriber.digest == "daily"


def test_preference_centre_refuses_unknown_choices_without_saving(client, reader, db):
    url = prefs_url(reader)
    response = client.post(
        url, data={"csrf_token": csrf_token(client, url), "topics": ["nope"], "digest": "daily"}
    )
    assert response.status_code == 400
    assert "Please choose from the topics listed" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Subscriber, reader.id).digest == "weekly"


def test_nothing_chosen_means_unsubscribed(client, reader, db):
    url = prefs_url(reader)
    client.post(url, data={"csrf_token": csrf_token(client, url), "digest": "off"})
    assert status_of(db, reader.id) == "unsubscribed"


def test_download_my_data(client, reader):
    url = prefs_url(reader)
    response = client.post(url + "/export", data={"csrf_token": csrf_token(client, url)})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["subscriber"]["email"] == "reader@example.org"
    assert data["subscriber"]["digest"] == "weekly"
    assert data["consents"][0]["confirmed_at"] is not None
    assert data["consents"][0]["text"]
    assert data["deliveries"] == []


def test_erase_needs_the_box_ticked_then_removes_everything(client, reader, db):
    url = prefs_url(reader)
    refused = client.post(url + "/erase", data={"csrf_token": csrf_token(client, url)})
    assert refused.status_code == 400
    assert "Please tick the box" in refused.get_data(as_text=True)
    assert db.session.get(Subscriber, reader.id) is not None

    done = client.post(url + "/erase", data={"csrf_token": csrf_token(client, url), "sure": "y"})
    assert done.status_code == 200
    assert "Your data was erased" in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Subscriber)) is None
    assert db.session.scalar(select(Suppression.reason)) == "erased"
    # The old preferences link now explains itself instead of failing.
    gone = client.get(url)
    assert gone.status_code == 404
    assert "no subscription for this link" in gone.get_data(as_text=True)


def test_tampered_links_get_a_clear_page(client, reader):
    url = prefs_url(reader)
    for bad in (
        url[:-3] + "abc",
        "/preferences/garbage",
        "/confirm/garbage",
        "/confirm/" + "a" * 2000,
    ):
        response = client.get(bad)
        assert response.status_code == 400, bad
        assert "This link does not work" in response.get_data(as_text=True)


def test_a_token_for_another_purpose_is_refused(client, reader):
    token = make_link_token("preferences", {"s": reader.id, "c": 1}, reader.link_key)
    assert client.get(f"/confirm/{token}").status_code == 400


def test_an_expired_confirmation_link_offers_a_new_one(app, client, ctx, db, topics):
    outcome = service.sign_up(db.session, "late@example.org", topics=None, digest="off", source="t")
    db.session.commit()
    signer = URLSafeTimedSerializer(app.config["ENGAGE"].secret_keys, salt="engage.confirm")
    token = signer.dumps({"s": outcome.subscriber.id, "c": outcome.consent.id})
    app.config["ENGAGE"].confirm_max_age_hours = -1  # every token is now past its age
    try:
        response = client.get(f"/confirm/{token}")
    finally:
        app.config["ENGAGE"].confirm_max_age_hours = 48
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert "This link has expired" in page
    assert 'action="/subscribe"' in page  # a form for a new link


def test_invalid_address_is_explained_in_the_form_and_nothing_is_written(client, topics, db, tasks):
    response = sign_up(client, "not an address")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "does not look like an email address" in page
    assert 'value="not an address"' in page  # what they typed is kept
    assert db.session.scalar(select(Subscriber)) is None
    assert tasks.run() == []


@pytest.mark.parametrize(
    "email",
    [
        "reader@example.org\r\nBcc: victim@example.org",
        "a" * 400 + "@example.org",
        "<script>alert(1)</script>@x.org",
    ],
)
def test_hostile_input_gets_a_message_not_a_500(client, topics, db, email):
    response = sign_up(client, email)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert db.session.scalar(select(Subscriber)) is None


def test_a_forged_topic_or_digest_is_refused(client, topics, db):
    assert sign_up(client, "a@example.org", topics=["admin"]).status_code == 400
    assert sign_up(client, "a@example.org", digest="hourly").status_code == 400
    assert db.session.scalar(select(Subscriber)) is None


def test_a_double_submit_makes_one_subscriber_and_one_email(client, topics, db, tasks, smtp_server):
    assert sign_up(client, "twice@example.org").status_code == 303
    assert sign_up(client, "twice@example.org").status_code == 303
    assert db.session.query(Subscriber).count() == 1
    tasks.run()
    assert len(smtp_server.messages) == 1


def test_a_form_without_csrf_token_keeps_what_was_typed(client, topics, db):
    response = client.post(
        "/subscribe", data={"email": "reader@example.org", "topics": ["newsletter"]}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This form expired" in page
    assert 'value="reader@example.org"' in page


def test_too_many_sign_ups_from_one_address_get_a_clear_429(client, topics):
    statuses = [sign_up(client, f"r{i}@example.org").status_code for i in range(11)]
    assert statuses[:10] == [303] * 10
    assert statuses[10] == 429
    assert "Too many attempts" in sign_up(client, "late@example.org").get_data(as_text=True)


def test_no_raw_ip_is_stored(client, topics, db):
    sign_up(client, "reader@example.org")
    subscriber = db.session.scalar(select(Subscriber))
    for consent in subscriber.consents:
        assert "127.0.0.1" not in " ".join(str(v) for v in vars(consent).values())
    assert not hasattr(Subscriber, "ip_address")


def test_delayed_consent_is_recorded_with_when_confirmation_was_sent(ctx, db, topics, tasks):
    outcome = service.sign_up(db.session, "a@example.org", topics=None, digest="off", source="t")
    emails.queue_confirmation(outcome.subscriber, outcome.consent)
    db.session.commit()
    assert outcome.consent.confirmation_sent_at is None  # queued is not sent
    assert tasks.run() == ["engage.send_email"]
    db.session.refresh(outcome.consent)
    assert outcome.consent.confirmation_sent_at is not None  # a server accepted it
    later = outcome.consent.consented_at + timedelta(minutes=1)
    service.confirm(db.session, outcome.subscriber.id, outcome.consent.id, now=later)
    assert outcome.consent.confirmed_at == later


def test_one_address_is_limited_whatever_the_client(app, topics):
    from flask import g

    statuses = []
    for _ in range(6):
        # The test's app context outlives requests, and Flask-WTF caches the form token in
        # `g`; drop it so each fresh client gets a token in its own session.
        g.pop("csrf_token", None)
        with app.test_client() as fresh:  # a new client each time, as a botnet would be
            statuses.append(sign_up(fresh, "target@example.org").status_code)
    assert statuses == [303] * 5 + [429]
