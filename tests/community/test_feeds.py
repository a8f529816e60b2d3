"""The .ics of an event, the iCalendar feed of upcoming events and the Atom feed, parsed back."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar

from engage.types import utcnow

ATOM = "{http://www.w3.org/2005/Atom}"


def test_an_event_ics_is_a_valid_calendar_in_the_event_time_zone(client, make_event):
    starts = datetime(2031, 7, 1, 18, 0, tzinfo=UTC)  # 19:00 in London (summer time)
    event = make_event(
        title="Riverside Circle; weekly, friendly",
        starts_at=starts,
        ends_at=starts + timedelta(minutes=90),
        timezone="Europe/London",
    )
    response = client.get(f"/events/{event.slug}.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    [vevent] = calendar.walk("VEVENT")
    start, end = vevent.decoded("DTSTART"), vevent.decoded("DTEND")
    assert vevent["DTSTART"].params["TZID"] == "Europe/London"
    assert (start.hour, start.minute) == (19, 0)
    assert start.utcoffset() == timedelta(hours=1)
    assert start == starts and end == starts + timedelta(minutes=90)
    assert str(vevent["SUMMARY"]) == "Riverside Circle; weekly, friendly"
    assert str(vevent["UID"]) == f"event-{event.id}@engage.test"
    assert f"http://engage.test/events/{event.slug}" in str(vevent["URL"])
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/London"]


def test_the_ics_keeps_other_time_zones(client, make_event):
    starts = datetime(2031, 1, 10, 1, 0, tzinfo=UTC)
    event = make_event(starts_at=starts, ends_at=starts + timedelta(hours=1),
                       timezone="America/New_York")  # fmt: skip
    [vevent] = Calendar.from_ical(client.get(f"/events/{event.slug}.ics").data).walk("VEVENT")
    start = vevent.decoded("DTSTART")
    assert vevent["DTSTART"].params["TZID"] == "America/New_York"
    assert start.astimezone(ZoneInfo("America/New_York")).hour == 20
    assert start == starts


def test_the_calendar_feed_holds_every_upcoming_approved_event(client, make_event):
    now = utcnow()
    soon = make_event(title="Soon", starts_at=now + timedelta(days=1))
    later = make_event(title="Later", starts_at=now + timedelta(days=9), timezone="Europe/Dublin")
    make_event(title="Over", starts_at=now - timedelta(days=2))
    make_event(title="Not yet approved", status="pending", approved_at=None)

    response = client.get("/events.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    events = calendar.walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == ["Soon", "Later"]
    assert len({str(e["UID"]) for e in events}) == 2
    assert {tz["TZID"] for tz in calendar.walk("VTIMEZONE")} == {"Europe/London", "Europe/Dublin"}
    assert soon and later


def test_an_empty_calendar_feed_is_still_a_calendar(client):
    calendar = Calendar.from_ical(client.get("/events.ics").data)
    assert calendar.walk("VEVENT") == []


def test_the_atom_feed_lists_newly_listed_groups_and_events(client, make_group, make_event):
    now = utcnow()
    make_group(name="Older group", approved_at=now - timedelta(days=5))
    make_group(name="Pending group", status="pending", approved_at=None)
    make_event(title="New <event> & more", approved_at=now - timedelta(hours=1))
    make_group(name="Newest group", approved_at=now - timedelta(minutes=5))

    response = client.get("/community/feed.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    root = ET.fromstring(response.data)  # noqa: S314 (our own feed, not untrusted input)
    assert root.tag == f"{ATOM}feed"
    assert root.find(f"{ATOM}id").text == "http://engage.test/community/feed.atom"
    titles = [entry.find(f"{ATOM}title").text for entry in root.findall(f"{ATOM}entry")]
    assert titles == [
        "Support group: Newest group",
        "Event: New <event> & more",
        "Support group: Older group",
    ]
    for entry in root.findall(f"{ATOM}entry"):
        assert entry.find(f"{ATOM}id").text.startswith("http://engage.test/")
        datetime.fromisoformat(entry.find(f"{ATOM}updated").text)


def test_the_atom_feed_parses_when_empty(client):
    root = ET.fromstring(client.get("/community/feed.atom").data)  # noqa: S314 (our feed)
    assert root.findall(f"{ATOM}entry") == []
