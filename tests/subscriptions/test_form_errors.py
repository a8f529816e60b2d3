"""The sign-up form and the preference centre, server side: every error at once with a summary
linking to the fields; one sign-up form per page and none where it does not belong; the
preference centre after unsubscribing; confirmation pages for the destructive actions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.subscriptions import service
from engage.subscriptions.consent import SIGN_UP, SUBSCRIBE_AGAIN, text_version
from engage.subscriptions.emails import preferences_url
from engage.subscriptions.models import Consent, Subscriber
from tests.conftest import csrf_token
from tests.support.forms import assert_field_error, duplicates, read


@pytest.fixture
def reader(ctx, db, topics):
    outcome = service.sign_up(
        db.session, "reader@example.org", topics=["newsletter"], digest="weekly", source="t"
    )
    service.confirm(db.session, outcome.subscriber.id, outcome.consent.id)
    outcome.subscriber.last_confirmation_sent_at = None  # past the confirmations' cooldown
    db.session.commit()
    return outcome.subscriber


def prefs(reader) -> str:
    return preferences_url(reader).removeprefix("http://engage.test")


def test_sign_up_lists_every_problem_at_once(client, topics, db):
    response = client.post(
        "/subscribe",
        data={
            "csrf_token": csrf_token(client, "/subscribe"),
            "email": "not an address",
            "topics": ["nope"],
            "digest": "hourly",
        },
    )
    assert response.status_code == 400
    page = read(response.get_data(as_text=True))
    assert [href for href, _ in page.summary_links] == [
        "#page-signup-email",
        "#page-signup-topics-newsletter",
        "#page-signup-digest-off",
    ]
    assert_field_error(page, "page-signup-email", page.summary_links[0][1])
    assert_field_error(page, "page-signup-topics", page.summary_links[1][1])
    assert_field_error(page, "page-signup-digest", page.summary_links[2][1])
    assert page.by_id["page-signup-email"]["value"] == "not an address"
    html = response.get_data(as_text=True)
    assert html.index("<h1>") < html.index('id="page-signup-errors"') < html.index('type="email"')
    assert page.signup_forms == 1 and duplicates(page) == {}
    assert db.session.scalar(select(Subscriber)) is None


def test_the_consent_text_stored_is_the_one_the_form_shows(client, topics, db):
    page = read(client.get("/subscribe").get_data(as_text=True))
    assert page.text_by_id["page-signup-consent"] == SIGN_UP.text
    client.post(
        "/subscribe",
        data={"csrf_token": csrf_token(client, "/subscribe"), "email": "a@example.org"},
    )
    consent = db.session.scalar(select(Consent))
    assert consent.text == SIGN_UP.text
    assert consent.version == SIGN_UP.version == text_version(SIGN_UP.text)
    assert text_version(SIGN_UP.text + " ") != SIGN_UP.version  # any change, a new version


def test_one_sign_up_form_where_it_belongs_and_none_elsewhere(client, reader):
    home = read(client.get("/").get_data(as_text=True))
    assert home.signup_forms == 1 and duplicates(home) == {}
    assert read(client.get("/subscribe").get_data(as_text=True)).signup_forms == 1
    for path in (
        "/subscribe/check-your-email",
        prefs(reader),
        f"/u/{reader.unsubscribe_id}",
        prefs(reader) + "/erase",
        prefs(reader) + "/unsubscribe",
        "/login",
    ):
        page = read(client.get(path).get_data(as_text=True))
        assert (page.signup_forms, duplicates(page)) == (0, {}), path


def test_preferences_list_every_problem_and_save_nothing(client, reader, db):
    url = prefs(reader)
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "topics": ["nope"],
            "digest": "hourly",
            "interests": "1",
            "purposes": ["not-a-purpose"],
        },
    )
    assert response.status_code == 400
    page = read(response.get_data(as_text=True))
    assert [href for href, _ in page.summary_links] == [
        "#prefs-topics-newsletter",
        "#prefs-digest-off",
        "#prefs-purposes-anxiety",
    ]
    for (_, message), name in zip(
        page.summary_links, ("topics", "digest", "purposes"), strict=True
    ):
        assert_field_error(page, f"prefs-{name}", message)
    assert duplicates(page) == {}
    db.session.expire_all()
    assert db.session.get(Subscriber, reader.id).digest == "weekly"


def test_unsubscribing_asks_first_then_the_page_says_so_plainly(client, reader, db, tasks):
    url = prefs(reader)
    ask = client.get(url + "/unsubscribe")
    assert ask.status_code == 200 and "Unsubscribe from everything?" in ask.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Subscriber, reader.id).status == "confirmed"  # a GET changes nothing

    done = client.post(url + "/unsubscribe", data={"csrf_token": csrf_token(client, url)})
    assert done.status_code == 303 and done.headers["Location"] == url
    html = client.get(url).get_data(as_text=True)
    page = read(html)
    assert "You are unsubscribed" in html and "We send you nothing" in html
    assert page.checked == []  # no choice shown as if it were active
    assert "Save my choices" not in html and "Subscribe again" in html
    assert page.text_by_id["subscribe-again-consent"] == SUBSCRIBE_AGAIN.text
    assert duplicates(page) == {}

    again = client.post(url + "/subscribe-again", data={"csrf_token": csrf_token(client, url)})
    assert again.status_code == 303
    assert again.headers["Location"] == "/subscribe/check-your-email"
    assert tasks.run() == ["engage.send_email"]  # the confirmation: double opt-in
    db.session.expire_all()
    subscriber = db.session.get(Subscriber, reader.id)
    assert subscriber.status == "unsubscribed"  # until the reader confirms
    assert subscriber.consents[-1].text == SUBSCRIBE_AGAIN.text
    assert subscriber.consents[-1].version == SUBSCRIBE_AGAIN.version


def test_erasing_asks_on_a_page_of_its_own(client, reader, db):
    url = prefs(reader)
    html = client.get(url).get_data(as_text=True)
    assert f'class="button-danger" href="{url}/erase"' in html
    ask = client.get(url + "/erase")
    assert ask.status_code == 200 and "Erase your data?" in ask.get_data(as_text=True)
    refused = client.post(url + "/erase", data={"csrf_token": csrf_token(client, url)})
    assert refused.status_code == 400
    page = read(refused.get_data(as_text=True))
    assert page.summary_links == [
        ("#erase-sure", "Please tick the box to confirm that you want your data erased.")
    ]
    assert_field_error(page, "erase-sure", page.summary_links[0][1])
    assert db.session.get(Subscriber, reader.id) is not None
