"""Private joining details: kept off every public page, feed, file and mailing, and sent to the
reader who asks (through the outbox, to the real SMTP server), with nothing kept about them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from engage.community import digests
from engage.community.models import Event
from engage.newsletters import blocks
from engage.newsletters.models import Newsletter
from engage.newsletters.public import slugify
from engage.sending.models import OutboxMessage
from engage.subscriptions.service import address_hash, suppress
from engage.types import utcnow
from tests.community.conftest import mail_to
from tests.conftest import csrf_token
from tests.digests.conftest import add_reader, render_of

LINK = "https://meet.example.org/bereaved-parents-7f3a"
ADDRESS = "St Brigid's Parish Hall, Room 4, Dublin 7"
GROUP_LINK = "https://call.example.org/after-loss-circle"


@pytest.fixture
def private_event(make_event):
    """An online event whose link is private (the default) and whose address is private."""
    return make_event(
        title="Bereaved parents: evening meeting",
        location=ADDRESS,
        location_private=True,
        online_url=LINK,
    )


@pytest.fixture
def private_group(make_group):
    return make_group(
        name="After Loss Parents' Circle",
        format="online",
        how_to_join=f"Join the call at {GROUP_LINK} on Tuesdays.",
        how_to_join_private=True,
        contact="Call Maeve on 01 555 0199",
        contact_private=True,
    )


def page_text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def ask(client, path: str, address: str, **extra):
    token = csrf_token(client, path)
    return client.post(
        f"{path}/joining-details", data={"csrf_token": token, "email": address, **extra}
    )


# --- kept off everything public ---------------------------------------------------------------


def test_a_new_event_keeps_its_online_link_private_unless_the_organiser_says_not(ctx, db):
    from engage.community import service

    starts = utcnow() + timedelta(days=3)
    values = {
        "title": "Online meeting",
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=1),
        "timezone": "UTC",
        "online_url": LINK,
    }
    assert service.create_event(db.session, values).online_url_private is True
    public = service.create_event(db.session, {**values, "online_url_private": False})
    assert public.online_url_private is False
    group = service.create_group(
        db.session,
        {
            "name": "Call group",
            "purposes": ["anxiety"],
            "format": "online",
            "region": "Online, UK",
            "how_to_join": "Join on www.example.org/call",
            "contact": "hello@example.org",
            "language": "English",
            "run_by": "peer",
        },
    )
    assert group.how_to_join_private is True and group.contact_private is False


def test_the_event_page_shows_neither_link_nor_address_but_offers_the_form(
    client, private_event, make_event
):
    page = page_text(client.get(f"/events/{private_event.slug}"))
    assert LINK not in page and "meet.example.org" not in page
    assert "Room 4" not in page
    assert "the link is sent on request" in page
    assert f'action="/events/{private_event.slug}/joining-details"' in page
    assert "Send me the joining details" in page
    # A public link stays on the page, with no form when nothing is private.
    open_event = make_event(online_url="https://example.org/open-talk", online_url_private=False)
    page = page_text(client.get(f"/events/{open_event.slug}"))
    assert 'href="https://example.org/open-talk"' in page
    assert "Send me the joining details" not in page


def test_the_group_page_keeps_how_to_join_and_the_contact_private(client, private_group):
    page = page_text(client.get(f"/groups/{private_group.slug}"))
    assert GROUP_LINK not in page and "call.example.org" not in page
    assert "555 0199" not in page
    assert f'action="/groups/{private_group.slug}/joining-details"' in page


def test_the_lists_and_the_home_page_leave_the_private_address_out(
    client, private_event, private_group
):
    for path in ("/events", "/", "/groups", f"/groups/{private_group.slug}"):
        page = page_text(client.get(path))
        assert "Room 4" not in page and LINK not in page and GROUP_LINK not in page, path


def test_the_region_filter_cannot_be_used_to_guess_a_private_address(client, private_event):
    found = page_text(client.get("/events", query_string={"region": "Room 4"}))
    assert private_event.title not in found
    assert "0 upcoming events" in found


def test_ics_files_and_the_calendar_feed_leave_the_private_details_out(client, private_event):
    for path in (f"/events/{private_event.slug}.ics", "/events.ics"):
        response = client.get(path)
        assert response.status_code == 200
        raw = response.get_data(as_text=True)
        assert "meet.example.org" not in raw and "Room 4" not in raw, path
        [vevent] = [
            item
            for item in Calendar.from_ical(response.data).walk("VEVENT")
            if str(item["SUMMARY"]) == private_event.title
        ]
        assert "LOCATION" not in vevent
        assert "sent on request" in str(vevent["DESCRIPTION"])


def test_the_atom_feed_leaves_the_private_details_out(client, private_event, private_group):
    response = client.get("/community/feed.atom")
    raw = response.get_data(as_text=True)
    feed = ET.fromstring(response.data)  # noqa: S314 (our own feed, just generated)
    titles = [e.text for e in feed.iter("{http://www.w3.org/2005/Atom}title")]
    assert f"Event: {private_event.title}" in titles
    assert "meet.example.org" not in raw and "Room 4" not in raw
    assert "call.example.org" not in raw and "555 0199" not in raw


def test_the_newsletter_blocks_and_the_public_archive_leave_them_out(
    client, db, private_event, private_group
):
    events_md = blocks.snippet(db.session, "events", "markdown")
    events_mjml = blocks.snippet(db.session, "events", "mjml")
    groups_md = blocks.snippet(db.session, "groups", "markdown")
    for snippet in (events_md, events_mjml, groups_md):
        assert "meet.example.org" not in snippet and "Room 4" not in snippet
        assert "call.example.org" not in snippet and "555 0199" not in snippet
    # The event links to its page, where the details are offered.
    assert f"http://engage.test/events/{private_event.slug}" in events_md
    sent = Newsletter(
        subject="December news",
        preheader="Meetings this month",
        body_markdown=blocks.append(events_md, groups_md),
        status="sent",
        created_at=utcnow(),
        finished_at=utcnow(),
    )
    db.session.add(sent)
    db.session.commit()
    archive = page_text(client.get(f"/newsletters/{sent.id}-{slugify(sent.subject)}"))
    assert private_event.title.split(":")[0] in archive
    assert "meet.example.org" not in archive and "Room 4" not in archive
    assert "call.example.org" not in archive


def test_the_digest_leaves_the_private_address_out(ctx, db):
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    session = db.session
    event = Event(
        slug="private-digest-event",
        title="Evening for bereaved parents",
        starts_at=monday + timedelta(days=3),
        ends_at=monday + timedelta(days=3, hours=2),
        timezone="Europe/London",
        location=ADDRESS,
        location_private=True,
        online_url=LINK,
        status="approved",
        approved_at=monday - timedelta(days=2),
    )
    session.add(event)
    reader = add_reader(session, confirmed_at=monday - timedelta(days=30))
    digests.run(session, "weekly", now=monday, dispatch=False)
    render = render_of(session, reader)
    assert render is not None and event.title in render.text
    for part in (render.text, render.html):
        assert "Room 4" not in part and "meet.example.org" not in part
    assert "In person" in render.text


def test_the_editor_api_shows_them_with_their_flags_and_no_one_else_gets_in(
    client, auth, private_event
):
    # The JSON API is for staff only (an editor's key): it shows everything, flags included.
    editor = client.get(f"/api/v1/events/{private_event.id}", headers=auth("editor")).get_json()
    assert editor["online_url"] == LINK and editor["online_url_private"] is True
    assert editor["location_private"] is True
    for headers in ({}, auth("moderator")):
        response = client.get(f"/api/v1/events/{private_event.id}", headers=headers)
        assert response.status_code in (401, 403)
        assert "meet.example.org" not in response.get_data(as_text=True)


def test_an_editor_can_make_a_link_public_through_the_api(client, auth, private_event):
    response = client.patch(
        f"/api/v1/events/{private_event.id}",
        json={"online_url_private": False},
        headers=auth("editor"),
    )
    assert response.status_code == 200 and response.get_json()["online_url_private"] is False
    assert f'href="{LINK}"' in page_text(client.get(f"/events/{private_event.slug}"))


def test_the_editor_screen_still_shows_the_private_details(editor_client, make_event):
    make_event(online_url=LINK, status="pending", approved_at=None)
    page = page_text(editor_client.get("/admin/community"))
    assert LINK in page and "(private: sent on request)" in page


# --- asking for them ------------------------------------------------------------------------


def test_the_details_arrive_by_email_after_the_request(
    client, db, tasks, smtp_server, private_event
):
    path = f"/events/{private_event.slug}"
    response = ask(client, path, "Reader@Example.org")
    assert response.status_code == 303
    assert response.headers["Location"] == f"{path}?asked=1#joining"
    assert "the joining details are on their way" in page_text(client.get(f"{path}?asked=1"))

    [message] = mail_to(tasks, smtp_server, "reader@example.org")
    email = message.message
    assert email["Subject"] == f"Joining details: {private_event.title}"
    assert "List-Unsubscribe" not in email  # transactional, to one reader
    text = email.get_body(("plain",)).get_content()
    assert f"Online link: {LINK}" in text
    assert f"Place: {ADDRESS}" in text
    assert LINK in email.get_body(("html",)).get_content()
    # Sent: the outbox row no longer holds the address or the details.
    db.session.expire_all()
    rows = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.email == "community_joining_details")
    ).all()
    assert [row.status for row in rows] == ["done"]
    assert rows[0].recipient is None and rows[0].args == []
    assert "reader@example.org" not in repr(
        db.session.execute(select(OutboxMessage.__table__)).all()
    )


def test_the_group_details_arrive_by_email(client, tasks, smtp_server, private_group):
    assert ask(client, f"/groups/{private_group.slug}", "friend@example.org").status_code == 303
    [message] = mail_to(tasks, smtp_server, "friend@example.org")
    text = message.message.get_body(("plain",)).get_content()
    assert GROUP_LINK in text and "Contact: Call Maeve on 01 555 0199" in text


def test_the_answer_is_the_same_whatever_the_address(client, db, tasks, smtp_server, private_event):
    path = f"/events/{private_event.slug}"
    suppress(db.session, address_hash("bounced@example.org"), "hard bounce")
    db.session.commit()
    answers = set()
    for address in (
        "someone@example.org",
        private_event.organiser_email,  # the organiser's own
        "bounced@example.org",  # on the suppression list: gets nothing
        "someone@example.org",  # again
    ):
        response = ask(client, path, address)
        answers.add((response.status_code, response.headers["Location"], response.data))
    assert len(answers) == 1
    tasks.run()
    assert not [m for m in smtp_server.messages if "bounced@example.org" in m.rcpt_tos]


def test_a_malformed_address_gets_a_message_and_nothing_is_sent(
    client, tasks, smtp_server, private_event
):
    response = ask(client, f"/events/{private_event.slug}", "not an address")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in page and 'id="joining-email-error"' in page
    assert "meet.example.org" not in page
    assert tasks.run() == []


def test_one_address_gets_at_most_three_emails_an_hour_and_the_page_does_not_say_so(
    client, tasks, smtp_server, private_event, make_event
):
    other = make_event(title="Another private meeting", online_url="https://meet.example.org/b")
    answers = set()
    for path in [f"/events/{private_event.slug}"] * 3 + [f"/events/{other.slug}"] * 2:
        response = ask(client, path, "flooded@example.org")
        answers.add((response.status_code, response.headers["Location"].split("?")[1]))
    assert answers == {(303, "asked=1#joining")}
    assert len(mail_to(tasks, smtp_server, "flooded@example.org")) == 3
    # Another address still gets its email.
    ask(client, f"/events/{other.slug}", "calm@example.org")
    assert len(mail_to(tasks, smtp_server, "calm@example.org")) == 1


def test_one_client_is_limited_whatever_addresses_it_tries(client, private_event):
    path = f"/events/{private_event.slug}"
    statuses = [ask(client, path, f"reader{n}@example.org").status_code for n in range(21)]
    assert statuses[:20] == [303] * 20 and statuses[20] == 429


def test_the_honeypot_sends_nothing_and_answers_the_same(client, tasks, private_event):
    response = ask(client, f"/events/{private_event.slug}", "bot@example.org", website="x")
    assert response.status_code == 303
    assert tasks.run() == []


def test_the_organiser_who_asked_to_know_is_told_without_the_address(
    client, tasks, smtp_server, make_event
):
    event = make_event(title="Quiet circle", online_url=LINK, notify_requests=True)
    ask(client, f"/events/{event.slug}", "private.reader@example.org")
    tasks.run()
    [notice] = [m for m in smtp_server.messages if event.organiser_email in m.rcpt_tos]
    email = notice.message
    assert email["Subject"] == "Someone asked for the joining details of Quiet circle"
    # Nowhere in the message, headers or either part, in any encoding a reader would recognise.
    assert b"private.reader" not in notice.raw.lower()
    for part in (email.get_body(("plain",)), email.get_body(("html",))):
        assert "private.reader" not in part.get_content().lower()
    assert "private.reader" not in str(email.items()).lower()
    assert notice.rcpt_tos == [event.organiser_email]
    assert "do not know who they are" in email.get_body(("plain",)).get_content()
    assert re.search(
        r"\(http://engage\.test/community/edit/\S+\)", email.get_body(("plain",)).get_content()
    )


def test_an_organiser_who_did_not_ask_is_not_told(client, tasks, smtp_server, private_event):
    ask(client, f"/events/{private_event.slug}", "reader@example.org")
    tasks.run()
    assert not [m for m in smtp_server.messages if private_event.organiser_email in m.rcpt_tos]


def test_nothing_to_ask_for_on_an_event_without_private_details(client, tasks, make_event):
    event = make_event(online_url="", location="The Library")
    response = ask(client, f"/events/{event.slug}", "reader@example.org")
    assert response.status_code == 303
    assert tasks.run() == []


def test_unlisted_listings_take_no_requests(client, make_group):
    group = make_group(status="pending", how_to_join_private=True)
    token = csrf_token(client, "/groups")
    response = client.post(
        f"/groups/{group.slug}/joining-details",
        data={"csrf_token": token, "email": "reader@example.org"},
    )
    assert response.status_code == 404


def test_the_organiser_sets_privacy_and_notices_on_the_submission_form(client, db):
    page = page_text(client.get("/events/submit"))
    assert re.search(r'id="online_url_private"[^>]*checked', page)
    assert 'id="notify_requests"' in page
    token = csrf_token(client, "/events/submit")
    response = client.post(
        "/events/submit",
        data={
            "csrf_token": token,
            "title": "Private walk",
            "starts": "2031-05-01T18:00",
            "ends": "2031-05-01T19:00",
            "timezone": "Europe/London",
            "location": "Meet at the north gate of the park",
            "location_private": "y",
            "notify_requests": "y",
            "organiser_email": "walker@example.org",
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    event = db.session.scalar(select(Event).where(Event.title == "Private walk"))
    assert event.location_private and event.notify_requests
    assert not event.online_url_private  # the box was left unticked
