"""Web addresses organisers and editors give: checked with a message on the way in (forms and
API), and shown safely on the way out even if a bad one was stored before the check."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.community.models import Event, SupportGroup
from engage.newsletters import blocks
from tests.community.test_submissions import submit_group, text
from tests.conftest import csrf_token

BAD_URLS = [
    ("http://[::1", "cannot be read"),
    ("http://[oops", "cannot be read"),
    ("https://example.org:99999/", "cannot be read"),
    ("javascript:alert(1)", "starting with https://"),
    ("ftp://files.example.org/", "starting with https://"),
    ("https://", "full web address"),
    ("https://meet.example.org/a b", "spaces"),
    ("https://meet.example.org/\x07", "spaces or line breaks"),
    ('https://meet.example.org/"onmouseover="x', "cannot contain"),
    ("https://user:secret@meet.example.org/", "user name or password"),
    ("https://" + "a" * 600 + ".example.org/", "500 characters"),
]


def submit_event(client, **values):
    data = {
        "csrf_token": csrf_token(client, "/events/submit"),
        "title": "An evening online",
        "starts": "2031-12-02T19:00",
        "ends": "2031-12-02T21:00",
        "timezone": "Europe/London",
        "location": "",
        "organiser_email": "events@example.org",
        **values,
    }
    return client.post("/events/submit", data=data)


def event_body(**values) -> dict:
    return {
        "title": "Open evening",
        "starts_at": "2031-12-02T19:00:00+00:00",
        "ends_at": "2031-12-02T21:00:00+00:00",
        "location": "",
        **values,
    }


@pytest.mark.parametrize(("url", "message"), BAD_URLS)
def test_a_bad_online_link_is_refused_with_a_message(client, db, auth, url, message):
    form = submit_event(client, online_url=url)
    assert form.status_code == 400
    assert message in text(form)
    api = client.post("/api/v1/events", json=event_body(online_url=url), headers=auth())
    assert api.status_code == 422, api.get_data(as_text=True)
    assert message in api.get_json()["error"]["fields"]["online_url"]
    assert db.session.scalar(select(Event)) is None


def test_a_good_online_link_is_kept(client, db):
    url = "https://meet.example.org/room?id=42#join"
    assert submit_event(client, online_url=f"  {url} ").status_code == 303
    assert db.session.scalar(select(Event.online_url)) == url


@pytest.mark.parametrize(
    ("contact", "message"),
    [
        ("http://[oops", "cannot be read"),
        ("https://circle.example.org/a b", "spaces"),
        ("www.[oops", "cannot be read"),
    ],
)
def test_a_contact_that_is_a_bad_link_is_refused(client, db, auth, contact, message):
    form = submit_group(client, contact=contact)
    assert form.status_code == 400
    assert message in text(form)
    group = {
        "name": "Harbour Grief Circle",
        "purposes": ["bereavement"],
        "format": "hybrid",
        "region": "Leinster",
        "contact": contact,
    }
    api = client.post("/api/v1/groups", json=group, headers=auth())
    assert api.status_code == 422, api.get_data(as_text=True)
    assert message in api.get_json()["error"]["fields"]["contact"]
    assert db.session.scalar(select(SupportGroup)) is None


@pytest.mark.parametrize(
    "contact", ["circle@example.org", "0161 496 0000", "https://circle.example.org/join"]
)
def test_other_contacts_are_kept(client, db, contact):
    assert submit_group(client, contact=contact).status_code == 303
    assert db.session.scalar(select(SupportGroup.contact)) == contact


def test_a_bad_link_stored_before_the_check_is_shown_as_text(client, db, make_group, make_event):
    group = make_group(contact="http://[oops")
    event = make_event(online_url="http://[::1")
    page = text(client.get(f"/groups/{group.slug}"))
    assert "http://[oops" in page and 'href="http://[oops' not in page
    for url in (f"/events/{event.slug}", f"/events/{event.slug}.ics", "/events", "/"):
        response = client.get(url)
        assert response.status_code == 200, url
    assert 'href="http://[::1' not in text(client.get(f"/events/{event.slug}"))
    for body_format in ("markdown", "mjml"):
        snippet = blocks.snippet(db.session, "events", body_format)
        assert event.title in snippet and "[::1" not in snippet
