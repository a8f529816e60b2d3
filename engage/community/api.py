"""Support groups and events in the JSON API, for editors: create (optionally listed at once),
list with filters, change, approve and reject."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engage.api import (
    ApiError,
    Filter,
    Page,
    PageQuery,
    PatchField,
    Timestamp,
    api_route,
    paginate,
)
from engage.community import emails, service
from engage.community.models import Event, SupportGroup
from engage.community.purposes import PURPOSES
from engage.extensions import db
from engage.types import utcnow
from engage.urls import external_url

MAX_ID = 2**31 - 1
TAGS = ["directory"]

Status = Literal["pending", "approved", "rejected"]
#: The managed list (engage.community.purposes): a constant, so the document can list it.
PurposeSlug = Literal[tuple(slug for slug, _label in PURPOSES)]
Format = Literal["in_person", "online", "hybrid"]
RunBy = Literal["peer", "professional", "organisation"]


def _one_of_required(*names: str):
    """JSON Schema: at least one of `names` is given as a non-empty string."""

    def extra(schema: dict) -> None:
        schema["anyOf"] = [
            {"required": [name], "properties": {name: {"type": "string", "minLength": 1}}}
            for name in names
        ]

    return extra


class GroupPatch(BaseModel):
    """The fields of a support group; in a PATCH every one is optional. Text is stored without
    control or invisible characters and with its ends trimmed; `name`, `contact` and
    `language` must keep something after that. `timezone` is an IANA name."""

    model_config = ConfigDict(extra="forbid")

    name: str = PatchField(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    purposes: list[PurposeSlug] = PatchField(
        min_length=1, max_length=8, description="Slugs from the managed list."
    )
    format: Format = PatchField()
    region: str | None = Field(None, max_length=120)
    city: str | None = Field(None, max_length=120)
    schedule: str | None = Field(None, max_length=300, description="Human-readable.")
    next_meeting_at: Timestamp | None = None
    timezone: str | None = Field(None, max_length=64, description="IANA name, e.g. Europe/London.")
    language: str = PatchField(min_length=1, max_length=40, description="English when left out.")
    run_by: RunBy = PatchField(description="peer when left out.")
    cost: str | None = Field(None, max_length=120)
    how_to_join: str | None = Field(None, max_length=3000)
    contact: str = PatchField(
        min_length=1,
        max_length=300,
        description="Email, phone or URL (a link must be an http(s) web address); public "
        "unless private.",
    )
    how_to_join_private: bool | None = Field(
        None,
        description="Keep `how_to_join` off public pages, feeds and mail; readers ask for it "
        "by email. For a new group, true when `how_to_join` holds a web address.",
    )
    contact_private: bool | None = Field(None, description="As above, for `contact`.")
    notify_requests: bool | None = Field(
        None, description="Email the organiser (never the reader's address) on each request."
    )


class GroupIn(GroupPatch):
    """A new support group: as for a change, and it needs a `region` or a `city` (or both)."""

    model_config = ConfigDict(json_schema_extra=_one_of_required("region", "city"))

    name: str = Field(min_length=1, max_length=200)
    purposes: list[PurposeSlug] = Field(min_length=1, max_length=8)
    format: Format
    contact: str = Field(
        min_length=1,
        max_length=300,
        description="Email, phone or URL (a link must be an http(s) web address).",
    )
    organiser_email: str | None = Field(
        None, max_length=320, description="Private; gets the approval email and edit link."
    )
    approved: bool = Field(False, description="List it at once.")


class GroupOut(BaseModel):
    id: int
    slug: str
    status: Status
    name: str
    description: str
    purposes: list[str]
    format: Format
    region: str
    city: str
    schedule: str
    next_meeting_at: Timestamp | None
    timezone: str
    language: str
    run_by: RunBy
    cost: str
    how_to_join: str
    contact: str
    how_to_join_private: bool
    contact_private: bool
    notify_requests: bool
    organiser_email: str | None
    organiser_confirmed_at: Timestamp | None
    rejection_reason: str
    approved_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp | None
    needs_check: bool
    url: str | None = Field(description="The public page, while it is approved.")


class EventPatch(BaseModel):
    """The fields of an event; in a PATCH every one is optional. Text is stored without control
    or invisible characters and with its ends trimmed; `title` must keep something after that.
    The end must follow the start by at most 14 days; there must be a `location` or an
    `online_url` (an http or https address), these rules applying to the event as changed."""

    model_config = ConfigDict(extra="forbid")

    title: str = PatchField(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    starts_at: Timestamp = PatchField()
    ends_at: Timestamp = PatchField()
    timezone: str | None = Field(None, max_length=64, description="IANA name, e.g. Europe/London.")
    location: str | None = Field(None, max_length=300)
    online_url: str | None = Field(None, max_length=500)
    group_id: int | None = Field(None, ge=1, le=MAX_ID, description="An existing group's id.")
    location_private: bool | None = Field(
        None,
        description="Keep `location` off public pages, feeds, .ics files and mail; readers "
        "ask for it by email. False for a new event.",
    )
    online_url_private: bool | None = Field(
        None, description="As above, for `online_url`. True for a new event."
    )
    notify_requests: bool | None = Field(
        None, description="Email the organiser (never the reader's address) on each request."
    )


class EventIn(EventPatch):
    """A new event: as for a change, and it needs a `location` or an `online_url` (or both)."""

    model_config = ConfigDict(json_schema_extra=_one_of_required("location", "online_url"))

    title: str = Field(min_length=1, max_length=200)
    starts_at: Timestamp
    ends_at: Timestamp
    organiser_email: str | None = Field(None, max_length=320)
    approved: bool = Field(False, description="List it at once.")


class EventOut(BaseModel):
    id: int
    slug: str
    status: Status
    title: str
    description: str
    starts_at: Timestamp
    ends_at: Timestamp
    timezone: str
    location: str
    online_url: str
    location_private: bool
    online_url_private: bool
    notify_requests: bool
    group_id: int | None
    organiser_email: str | None
    organiser_confirmed_at: Timestamp | None
    rejection_reason: str
    approved_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp | None
    needs_check: bool
    url: str | None
    ics_url: str | None


class DirectoryQuery(PageQuery):
    status: Status | None = Field(None, description="Any status when left out.")
    purpose: Filter[PurposeSlug] = None
    format: Format | None = None
    region: str | None = Field(None, max_length=120, description="Region or city (exact).")
    language: str | None = Field(None, max_length=40)


class EventQuery(DirectoryQuery):
    group_id: int | None = Field(None, ge=1, le=MAX_ID)
    upcoming: bool = Field(False, description="Only events that have not ended.")


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Emailed to the organiser; needs more than spaces or invisible characters.",
    )


def _filters(query: DirectoryQuery) -> service.Filters:
    if query.purpose and query.purpose not in service.PURPOSE_SLUGS:
        raise ApiError(422, "Some query parameters are not valid.", fields={
            "purpose": "Not a purpose from the managed list."
        })  # fmt: skip
    return service.Filters(
        purpose=query.purpose or "",
        format=query.format or "",
        region=query.region or "",
        language=query.language or "",
    )


def _invalid(exc: service.ListingInvalid) -> ApiError:
    return ApiError(422, "Some fields are not valid.", fields=dict(exc.errors))


def group_out(group: SupportGroup) -> dict:
    data = {name: getattr(group, name) for name in GroupOut.model_fields if name != "url"}
    public = group.status == "approved"
    data["url"] = external_url("community.group", slug=group.slug) if public else None
    return data


def event_out(event: Event) -> dict:
    data = {
        name: getattr(event, name)
        for name in EventOut.model_fields
        if name not in ("url", "ics_url")
    }
    public = event.status == "approved"
    data["url"] = external_url("community.event", slug=event.slug) if public else None
    data["ics_url"] = external_url("community.event_ics", slug=event.slug) if public else None
    return data


def _group(group_id: int) -> SupportGroup:
    group = db.session.get(SupportGroup, group_id) if group_id <= MAX_ID else None
    if group is None:
        raise ApiError(404, "There is no support group with this id.")
    return group


def _event(event_id: int) -> Event:
    event = db.session.get(Event, event_id) if event_id <= MAX_ID else None
    if event is None:
        raise ApiError(404, "There is no event with this id.")
    return event


# --- groups ---------------------------------------------------------------------------------


@api_route(
    "/groups",
    methods=["POST"],
    role="editor",
    body=GroupIn,
    response=GroupOut,
    status=201,
    summary="Add a support group",
    tags=TAGS,
    errors={422: "Also when a rule in the body's description is not met."},
)
def create_group(body: GroupIn):
    """Pending unless `"approved": true`. Rules the directory checks (known purposes, a region
    or city, a real time zone) answer 422 with `fields`."""
    values = body.model_dump(exclude={"organiser_email", "approved"}, exclude_none=True)
    values = {"language": "English", "run_by": "peer", "timezone": "UTC", **values}
    try:
        group = service.create_group(
            db.session, values, organiser_email=body.organiser_email, approved=body.approved
        )
    except service.ListingInvalid as exc:
        raise _invalid(exc) from None
    if body.approved:
        emails.queue_approved(group)
    return group_out(group)


@api_route(
    "/groups",
    role="editor",
    query=DirectoryQuery,
    response=Page[GroupOut],
    summary="List support groups",
    tags=TAGS,
)
def list_groups(query: DirectoryQuery):
    """Newest first; filter by status, purpose, format, region (or city) and language."""
    statement = service.group_query(_filters(query), status=query.status).order_by(
        SupportGroup.created_at.desc(), SupportGroup.id.desc()
    )
    return paginate(db.session, statement, query, group_out)


@api_route(
    "/groups/<int:group_id>", role="editor", response=GroupOut, summary="A support group",
    tags=TAGS,
)  # fmt: skip
def get_group(group_id: int):
    return group_out(_group(group_id))


@api_route(
    "/groups/<int:group_id>",
    methods=["PATCH"],
    role="editor",
    body=GroupPatch,
    response=GroupOut,
    summary="Change a support group",
    tags=TAGS,
    errors={422: "Also when a rule in the body's description is not met."},
)
def patch_group(group_id: int, body: GroupPatch):
    """Only the fields sent change; its status does not (approve or reject for that)."""
    group = _group(group_id)
    try:
        service.update_listing(
            db.session, group, body.model_dump(exclude_unset=True), by_organiser=False
        )
    except service.ListingInvalid as exc:
        raise _invalid(exc) from None
    return group_out(group)


@api_route(
    "/groups/<int:group_id>/approve",
    methods=["POST"],
    role="editor",
    response=GroupOut,
    summary="Approve (list) a support group",
    tags=TAGS,
)
def approve_group(group_id: int):
    """Idempotent: approving a listed group keeps its `approved_at` and sends nothing."""
    group = _group(group_id)
    if service.approve(db.session, group):
        emails.queue_approved(group)
    return group_out(group)


@api_route(
    "/groups/<int:group_id>/reject",
    methods=["POST"],
    role="editor",
    body=RejectIn,
    response=GroupOut,
    summary="Reject (or unlist) a support group",
    tags=TAGS,
    errors={422: "Also for a reason that is empty once trimmed."},
)
def reject_group(group_id: int, body: RejectIn):
    """The reason is emailed to the organiser, with a link to change and resubmit."""
    group = _group(group_id)
    try:
        service.reject(db.session, group, body.reason)
    except service.ListingInvalid as exc:
        raise _invalid(exc) from None
    emails.queue_rejected(group)
    return group_out(group)


# --- events ---------------------------------------------------------------------------------


@api_route(
    "/events",
    methods=["POST"],
    role="editor",
    body=EventIn,
    response=EventOut,
    status=201,
    summary="Add an event",
    tags=TAGS,
    errors={422: "Also when a rule in the body's description is not met."},
)
def create_event(body: EventIn):
    """Pending unless `"approved": true`. Needs a place or an online link (or both); the end
    must follow the start; `group_id` must name an existing group."""
    values = body.model_dump(exclude={"organiser_email", "approved"}, exclude_none=True)
    try:
        event = service.create_event(
            db.session, values, organiser_email=body.organiser_email, approved=body.approved
        )
    except service.ListingInvalid as exc:
        raise _invalid(exc) from None
    if body.approved:
        emails.queue_approved(event)
    return event_out(event)


@api_route(
    "/events",
    role="editor",
    query=EventQuery,
    response=Page[EventOut],
    summary="List events",
    tags=TAGS,
)
def list_events(query: EventQuery):
    """Soonest first. Purpose, region and language filter through the event's group; format
    through its place and link."""
    statement = service.event_query(
        _filters(query),
        status=query.status,
        upcoming_at=utcnow() if query.upcoming else None,
    )
    if query.group_id:
        statement = statement.where(Event.group_id == query.group_id)
    statement = statement.order_by(Event.starts_at, Event.id)
    return paginate(db.session, statement, query, event_out)


@api_route(
    "/events/<int:event_id>", role="editor", response=EventOut, summary="An event", tags=TAGS
)
def get_event(event_id: int):
    return event_out(_event(event_id))


@api_route(
    "/events/<int:event_id>",
    methods=["PATCH"],
    role="editor",
    body=EventPatch,
    response=EventOut,
    summary="Change an event",
    tags=TAGS,
    errors={422: "Also when a rule in the body's description is not met."},
)
def patch_event(event_id: int, body: EventPatch):
    """Only the fields sent change; `"group_id": null` unlinks it from its group."""
    event = _event(event_id)
    try:
        service.update_listing(
            db.session, event, body.model_dump(exclude_unset=True), by_organiser=False
        )
    except service.ListingInvalid as exc:
        raise _invalid(exc) from None
    return event_out(event)


@api_route(
    "/events/<int:event_id>/approve",
    methods=["POST"],
    role="editor",
    response=EventOut,
    summary="Approve (list) an event",
    tags=TAGS,
)
def approve_event(event_id: int):
    """Idempotent: approving a listed event keeps its `approved_at` and sends nothing."""
    event = _event(event_id)
    if service.approve(db.session, event):
        emails.queue_approved(event)
    return event_out(event)


@api_route(
    "/events/<int:event_id>/reject",
    methods=["POST"],
    role="editor",
    body=RejectIn,
    response=EventOut,
    summary="Reject (or unlist) an event",
    tags=TAGS,
    errors={422: "Also for a reason that is empty once trimmed."},
)
def reject_event(event_id: int, body: RejectIn):
    """The reason is emailed to the organiser, with a link to change and resubmit."""
    event = _event(event_id)
    try:
        service.reject(db.session, event, body.reason)
    except service.ListingInvalid as exc:
        raise _invalid(exc) from None
    emails.queue_rejected(event)
    return event_out(event)
