"""Flask-WTF forms for organisers and editors: CSRF, parsing and the fields' HTML. The rules
(what is required, lengths, known purposes, time zones) live in engage.community.service, which
words the messages; these forms only turn the request into values."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from engage.community.purposes import PURPOSES
from engage.community.service import FORMAT_LABELS, RUN_BY_LABELS, valid_timezone

# Offered in the time-zone field's suggestions; any IANA name is accepted.
COMMON_TIMEZONES = (
    "Europe/London", "Europe/Dublin", "Europe/Paris", "Europe/Berlin", "Europe/Madrid",
    "Europe/Lisbon", "Europe/Amsterdam", "Europe/Stockholm", "America/New_York",
    "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Toronto",
    "Australia/Sydney", "Pacific/Auckland", "UTC",
)  # fmt: skip
LOCAL_FORMAT = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
BAD_DATE = "Please give a date and a time, e.g. 2026-12-01 19:00."


def aware(local: datetime | None, zone_name: str) -> datetime | None:
    """A wall-clock time from the form, read in `zone_name` (UTC if that is not a zone)."""
    if local is None:
        return None
    zone = ZoneInfo(zone_name) if valid_timezone(zone_name) else ZoneInfo("UTC")
    return local.replace(tzinfo=zone)


def local(value: datetime | None, zone_name: str) -> datetime | None:
    """A stored UTC time as the wall-clock time the form shows."""
    if value is None:
        return None
    zone = ZoneInfo(zone_name) if valid_timezone(zone_name) else ZoneInfo("UTC")
    return value.astimezone(zone).replace(tzinfo=None)


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices (tuples are deprecated in WTForms 3.3)."""
    return [SelectChoice(value, text) for value, text in pairs]


class HoneypotMixin:
    # Hidden from people by CSS and aria-hidden; bots fill every field.
    website = StringField("Leave this field empty", validators=[Optional()])


class GroupForm(FlaskForm):
    name = StringField("Name of the group")
    description = TextAreaField("About the group")
    purposes = SelectMultipleField(
        "What it is for", choices=choices(PURPOSES), validate_choice=False
    )
    format = RadioField(
        "How it meets", choices=choices(FORMAT_LABELS.items()), validate_choice=False
    )
    region = StringField("Region")
    city = StringField("City or town")
    schedule = StringField("When it meets")
    next_meeting = DateTimeLocalField(
        "Next meeting (if known)", format=LOCAL_FORMAT, validators=[Optional()]
    )
    timezone = StringField("Time zone", default="Europe/London")
    language = StringField("Language", default="English")
    run_by = RadioField(
        "Who runs it", choices=choices(RUN_BY_LABELS.items()), validate_choice=False
    )
    cost = StringField("Cost", default="Free")
    how_to_join = TextAreaField("How to join")
    contact = StringField("Contact")
    # Checked on a new form: this is where an online group puts its call link.
    how_to_join_private = BooleanField("Keep “How to join” private", default=True)
    contact_private = BooleanField("Keep the contact private")
    notify_requests = BooleanField(
        "Email me (without their address) when someone asks for the private details"
    )

    def values(self) -> dict:
        zone = (self.timezone.data or "").strip()
        return {
            "name": self.name.data,
            "description": self.description.data,
            "purposes": list(self.purposes.data or []),
            "format": self.format.data,
            "region": self.region.data,
            "city": self.city.data,
            "schedule": self.schedule.data,
            "next_meeting_at": aware(self.next_meeting.data, zone),
            "timezone": zone,
            "language": self.language.data,
            "run_by": self.run_by.data,
            "cost": self.cost.data,
            "how_to_join": self.how_to_join.data,
            "contact": self.contact.data,
            "how_to_join_private": bool(self.how_to_join_private.data),
            "contact_private": bool(self.contact_private.data),
            "notify_requests": bool(self.notify_requests.data),
        }


class GroupSubmitForm(HoneypotMixin, GroupForm):
    organiser_email = EmailField("Your email address")


class EventForm(FlaskForm):
    title = StringField("Title")
    description = TextAreaField("Description")
    starts = DateTimeLocalField("Starts", format=LOCAL_FORMAT, validators=[Optional()])
    ends = DateTimeLocalField("Ends", format=LOCAL_FORMAT, validators=[Optional()])
    timezone = StringField("Time zone", default="Europe/London")
    location = StringField("Place")
    online_url = StringField("Online link")
    location_private = BooleanField("Keep the place private")
    # Checked on a new form: a public call link lets anyone walk into the meeting.
    online_url_private = BooleanField("Keep the online link private", default=True)
    notify_requests = BooleanField(
        "Email me (without their address) when someone asks for the private details"
    )
    group = SelectField("Group", choices=choices([("", "No group")]), validate_choice=False)

    def values(self) -> dict:
        zone = (self.timezone.data or "").strip()
        raw_group = (self.group.data or "").strip()
        return {
            "title": self.title.data,
            "description": self.description.data,
            "starts_at": aware(self.starts.data, zone),
            "ends_at": aware(self.ends.data, zone),
            "timezone": zone,
            "location": self.location.data,
            "online_url": self.online_url.data,
            "location_private": bool(self.location_private.data),
            "online_url_private": bool(self.online_url_private.data),
            "notify_requests": bool(self.notify_requests.data),
            # A value that is not a number names no group; the service says so.
            "group_id": int(raw_group)
            if raw_group.isdigit() and len(raw_group) < 10
            else (-1 if raw_group else None),
        }


class EventSubmitForm(HoneypotMixin, EventForm):
    organiser_email = EmailField("Your email address")


class ButtonForm(FlaskForm):
    """A form whose only field is its CSRF token: a button that POSTs."""


class RejectForm(FlaskForm):
    reason = TextAreaField("Reason (emailed to the organiser)")


class JoiningRequestForm(HoneypotMixin, FlaskForm):
    """A reader asks for a listing's private joining details."""

    email = EmailField("Your email address")
