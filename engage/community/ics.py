"""iCalendar (RFC 5545) for events: one event's .ics and the feed of every upcoming one.

Times are written in the event's own zone (DTSTART;TZID=Europe/London:…) with the matching
VTIMEZONE, so a calendar shows "7pm" where the meeting is, whatever zone the reader is in.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from icalendar import Calendar
from icalendar import Event as VEvent

from engage.community.joining import private_details, public_value
from engage.community.models import Event
from engage.community.service import valid_timezone
from engage.urls import external_url

PRODID = "-//Engage//Community directory//EN"


def _uid(event: Event) -> str:
    host = urlsplit(current_app.config["ENGAGE"].base_url).hostname or "engage.invalid"
    return f"event-{event.id}@{host}"


def vevent(event: Event) -> VEvent:
    zone = ZoneInfo(event.timezone if valid_timezone(event.timezone) else "UTC")
    url = external_url("community.event", slug=event.slug)
    item = VEvent()
    item.add("uid", _uid(event))
    item.add("dtstamp", event.updated_at or event.approved_at or event.created_at)
    item.add("dtstart", event.starts_at.astimezone(zone))
    item.add("dtend", event.ends_at.astimezone(zone))
    item.add("summary", event.title)
    # Calendar files are public and get shared: private joining details stay out of them.
    location, online_url = public_value(event, "location"), public_value(event, "online_url")
    description = event.description
    if online_url:
        description = f"{description}\n\nJoin online: {online_url}".strip()
    if private_details(event):
        description = f"{description}\n\nJoining details are sent on request: {url}".strip()
    item.add("description", f"{description}\n\n{url}".strip())
    item.add("url", url)
    if location or online_url:
        item.add("location", location or online_url)
    if event.updated_at:
        item.add("last-modified", event.updated_at)
    return item


def calendar(events: list[Event], name: str) -> bytes:
    """A VCALENDAR holding `events`, with a VTIMEZONE for each zone they use."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    for event in events:
        cal.add_component(vevent(event))
    if events:
        # Zone rules only for the years the events span, to keep the file small.
        first = min(e.starts_at for e in events).date() - timedelta(days=366)
        last = max(e.ends_at for e in events).date() + timedelta(days=366)
        cal.add_missing_timezones(first_date=date(first.year, 1, 1), last_date=last)
    return cal.to_ical()
