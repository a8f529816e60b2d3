"""Subscribers in the JSON API, for editors: list, bulk import, read, change, erase, export."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
)
from sqlalchemy import select

from engage.api import ApiError, Filter, Page, PageQuery, Timestamp, api_route, paginate
from engage.extensions import db
from engage.subscriptions import importing, service
from engage.subscriptions.models import (
    DIGEST_FREQUENCIES,
    SUBSCRIBER_STATUSES,
    Subscriber,
    Topic,
)
from engage.subscriptions.views import queue_signup_email

# Ids beyond a 32-bit integer name no subscriber (and PostgreSQL refuses to compare them).
MAX_ID = 2**31 - 1
TAGS = ["subscribers"]


def _single_line(value: str) -> str:
    if importing.has_control_characters(value):
        raise ValueError("must not contain line breaks or other control characters")
    return value


SingleLine = Annotated[str, AfterValidator(_single_line)]
Slug = Annotated[SingleLine, Field(max_length=importing.MAX_TOPIC_SLUG)]


class SubscriberOut(BaseModel):
    id: int
    email: str | None
    status: Literal[SUBSCRIBER_STATUSES]
    topics: list[str] = Field(description="Topic slugs, sorted.")
    digest: str
    created_at: Timestamp
    confirmed_at: Timestamp | None


class SubscriberQuery(PageQuery):
    email: Filter[Annotated[str, Field(max_length=320)]] = Field(
        None, description="Exact address (compared after normalising); a valid address."
    )
    status: Filter[Literal[SUBSCRIBER_STATUSES]] = None
    topic: Filter[Slug] = Field(None, description="The slug of an existing topic.")


class ConsentIn(BaseModel):
    """Evidence of consent given elsewhere: where, the words agreed to, and when."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(None, description="Where consent was given, e.g. a form's URL.")
    text: str | None = Field(None, description="The words the person agreed to.")
    consented_at: Timestamp | None = None


class ImportRowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str
    topics: list[str] | None = Field(None, description="Topic slugs; none: the default topics.")
    digest: str | None = Field(None, description="off (default), weekly or daily.")
    confirmed: StrictBool = Field(
        False,
        description="True imports the subscriber as confirmed (no email); needs `consent`.",
    )
    consent: ConsentIn | None = None

    def to_row(self) -> importing.ImportRow:
        consent = self.consent
        return importing.ImportRow(
            email=self.email,
            topics=self.topics,
            digest=self.digest,
            confirmed=self.confirmed,
            consent=importing.ConsentEvidence(consent.source, consent.text, consent.consented_at)
            if consent is not None
            else None,
        )


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscribers: list[ImportRowIn] = Field(min_length=1, max_length=importing.MAX_ROWS)


class RejectedRow(BaseModel):
    index: int = Field(description="The row's position in `subscribers`, from 0.")
    email: str | None = Field(
        description="The submitted address, shortened, without control characters."
    )
    reason: str


class ImportOut(BaseModel):
    created: int
    updated: int
    rejected: list[RejectedRow]


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topics: list[Slug] | None = Field(
        None, max_length=importing.MAX_TOPICS, description="Topic slugs (replaces the list)."
    )
    digest: Literal[DIGEST_FREQUENCIES] | None = Field(None, description="off, weekly or daily.")


def _out(subscriber: Subscriber) -> SubscriberOut:
    return SubscriberOut(
        id=subscriber.id,
        email=subscriber.email,
        status=subscriber.status,
        topics=sorted(topic.slug for topic in subscriber.topics),
        digest=subscriber.digest,
        created_at=subscriber.created_at,
        confirmed_at=subscriber.confirmed_at,
    )


def _subscriber(subscriber_id: int) -> Subscriber:
    subscriber = db.session.get(Subscriber, subscriber_id) if subscriber_id <= MAX_ID else None
    if subscriber is None:
        raise ApiError(404, "There is no subscriber with this id.")
    return subscriber


@api_route(
    "/subscribers",
    role="editor",
    query=SubscriberQuery,
    response=Page[SubscriberOut],
    summary="List subscribers",
    tags=TAGS,
    errors={422: "Also when `email` is not a valid address or `topic` names no topic."},
)
def list_subscribers(query: SubscriberQuery):
    """Oldest first. `email` must be a valid address (422 otherwise); `topic` a known slug."""
    statement = select(Subscriber).order_by(Subscriber.id)
    if query.email is not None:
        try:
            address = service.normalise_email(query.email)
        except service.InvalidAddress as exc:
            raise ApiError(
                422, "Some query parameters are not valid.", fields={"email": str(exc)}
            ) from None
        statement = statement.where(Subscriber.email == address)
    if query.status is not None:
        statement = statement.where(Subscriber.status == query.status)
    if query.topic is not None:
        topic = db.session.scalar(select(Topic).where(Topic.slug == query.topic))
        if topic is None:
            raise ApiError(
                422,
                "Some query parameters are not valid.",
                fields={"topic": "There is no topic with this slug."},
            )
        statement = statement.where(Subscriber.topics.any(Topic.id == topic.id))
    return paginate(db.session, statement, query, _out)


@api_route(
    "/subscribers",
    methods=["POST"],
    role="editor",
    body=ImportIn,
    response=ImportOut,
    summary="Import subscribers",
    tags=TAGS,
)
def import_subscribers(body: ImportIn):
    """Each row is imported whole or rejected with a reason; the others still go in.

    A row with `confirmed: true` needs `consent` evidence (`source`, `text`, `consented_at`
    with an offset): it is imported confirmed and gets no email. Other rows are double opt-in
    sign-ups: pending, sent a confirmation email. An address already known is updated only with
    new evidence or while still pending; an unsubscribed, erased or bounced address comes back
    only with evidence given after it left. A later row repeating an address is rejected.
    Malformed JSON types answer 422 for the whole request, and nothing is written.
    """
    report = importing.import_subscribers(db.session, [row.to_row() for row in body.subscribers])
    for outcome in report.signups:
        queue_signup_email(outcome)  # sent once the request commits
    return ImportOut(
        created=report.created,
        updated=report.updated,
        rejected=[
            RejectedRow(index=r.index, email=r.email, reason=r.reason) for r in report.rejected
        ],
    )


@api_route(
    "/subscribers/<int:subscriber_id>",
    role="editor",
    response=SubscriberOut,
    summary="One subscriber",
    tags=TAGS,
)
def get_subscriber(subscriber_id: int):
    return _out(_subscriber(subscriber_id))


@api_route(
    "/subscribers/<int:subscriber_id>",
    methods=["PATCH"],
    role="editor",
    body=PreferencesIn,
    response=SubscriberOut,
    summary="Change a subscriber's topics and digest",
    tags=TAGS,
    errors={422: "Also when a slug in `topics` names no topic."},
)
def update_subscriber(subscriber_id: int, body: PreferencesIn):
    """Fields left out keep their value. Unknown topics answer 422.

    As in the reader's preference centre, no topics and digest `off` leaves nothing to send:
    the subscriber is unsubscribed.
    """
    subscriber = _subscriber(subscriber_id)
    if body.topics is None and body.digest is None:
        return _out(subscriber)
    topics = body.topics if body.topics is not None else [t.slug for t in subscriber.topics]
    digest = body.digest if body.digest is not None else subscriber.digest
    try:
        service.update_preferences(db.session, subscriber, topics, digest)
    except service.InvalidChoice as exc:
        raise ApiError(422, "Some fields are not valid.", fields={exc.field: str(exc)}) from None
    return _out(subscriber)


@api_route(
    "/subscribers/<int:subscriber_id>",
    methods=["DELETE"],
    role="editor",
    status=204,
    summary="Erase a subscriber",
    tags=TAGS,
)
def erase_subscriber(subscriber_id: int):
    """Removes the subscriber and everything personal, in every area: their replies stay in
    their threads as "Former reader" without the address, reply notifications stop, listings
    they submitted lose the address. A keyed hash of the address stays on the suppression
    list, so nothing is sent to it again without new consent."""
    service.erase(db.session, _subscriber(subscriber_id))


@api_route(
    "/subscribers/<int:subscriber_id>/export",
    role="editor",
    summary="Everything held about a subscriber",
    tags=TAGS,
)
def export_subscriber(subscriber_id: int):
    """The subscriber, their consent records, deliveries, every reply written from the address
    (with its notification settings) and the listings submitted from it: what the reader's own
    export gives."""
    return service.export(db.session, _subscriber(subscriber_id))
