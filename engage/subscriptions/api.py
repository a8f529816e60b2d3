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

from engage.api import (
    Answer,
    ApiError,
    Filter,
    Page,
    PageQuery,
    Timestamp,
    api_route,
    current_api_key,
    paginate,
)
from engage.extensions import db
from engage.queue import enqueue
from engage.sending import bounces
from engage.subscriptions import importing, service
from engage.subscriptions.emails import queue_signup_email
from engage.subscriptions.models import (
    DIGEST_FREQUENCIES,
    SUBSCRIBER_STATUSES,
    Subscriber,
    Topic,
)
from engage.urls import external_url

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


class BounceOut(BaseModel):
    """A bounce or complaint about mail to the subscriber (engage/sending/bounces.py)."""

    occurred_at: Timestamp
    kind: Literal["hard", "soft", "complaint"]
    status: str = Field(description='RFC 3463 status, e.g. "5.1.1"; may be empty.')
    source: str = Field(description='How it was reported: "smtp", "dsn", "arf" or a provider.')


class SubscriberDetailOut(SubscriberOut):
    bounces: list[BounceOut] = Field(description="Bounces and complaints, newest first.")


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


class ImportJobOut(BaseModel):
    """A large import, run by a worker in batches; poll `url` for its progress."""

    id: int
    url: str = Field(description="GET it for the progress: /api/v1/imports/{id}.")
    status: Literal[importing.JOB_STATUSES] = Field(
        description="queued, running, done, or failed (rows from `processed` on were not "
        "imported: send them again)."
    )
    total: int = Field(description="Rows sent.")
    processed: int = Field(description="Rows imported or rejected so far.")
    created: int
    updated: int
    rejected: list[RejectedRow] = Field(description="So far, by row index.")
    error: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None


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


def _detail(subscriber: Subscriber) -> SubscriberDetailOut:
    events = bounces.history(db.session, subscriber.id, subscriber.email_hash)
    return SubscriberDetailOut(
        **_out(subscriber).model_dump(), bounces=[BounceOut(**event) for event in events]
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
    answers=[
        Answer(
            202,
            f"More than {importing.SYNC_ROWS} rows: the import runs in the background; "
            "poll `url` (also in the Location header).",
            ImportJobOut,
        )
    ],
)
def import_subscribers(body: ImportIn):
    """Each row is imported whole or rejected with a reason; the others still go in.

    A row with `confirmed: true` needs `consent` evidence (`source`, `text`, `consented_at`
    with an offset): it is imported confirmed and gets no email. Other rows are double opt-in
    sign-ups: pending, sent a confirmation email. An address already known is updated only with
    new evidence or while still pending; an unsubscribed, erased or bounced address comes back
    only with evidence given after it left. A later row repeating an address is rejected.
    Malformed JSON types answer 422 for the whole request, and nothing is written.

    Up to 1,000 rows are imported at once and answered 200 with the counts. Up to 20,000 are
    answered 202 with a job (same rules, same rejection reasons) that a worker runs in
    batches; `GET /api/v1/imports/{id}` gives its progress. The body is also bounded by the
    server's MAX_CONTENT_LENGTH (1 MiB by default: about 5,000 rows with consent evidence).
    """
    rows = [row.to_row() for row in body.subscribers]
    if len(rows) > importing.SYNC_ROWS:
        job = importing.create_import_job(db.session, rows, api_key_id=current_api_key().id)
        enqueue("engage.subscriptions.run_import", job.id)  # sent once the request commits
        out = _job_out(job, [])
        return out, 202, {"Location": out.url}
    report = importing.import_subscribers(db.session, rows)
    for outcome in report.signups:
        queue_signup_email(outcome)  # sent once the request commits
    return ImportOut(
        created=report.created,
        updated=report.updated,
        rejected=[
            RejectedRow(index=r.index, email=r.email, reason=r.reason) for r in report.rejected
        ],
    )


def _job_out(job: importing.ImportJob, rejections) -> ImportJobOut:
    return ImportJobOut(
        id=job.id,
        url=external_url("api.get_import", job_id=job.id),
        status=job.status,
        total=job.total,
        processed=job.processed,
        created=job.created,
        updated=job.updated,
        rejected=[
            RejectedRow(index=r.row_index, email=r.email, reason=r.reason) for r in rejections
        ],
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


@api_route(
    "/imports/<int:job_id>",
    role="editor",
    response=ImportJobOut,
    summary="Progress of a large import",
    tags=TAGS,
)
def get_import(job_id: int):
    """Status, rows processed, created, updated, and each rejected row with its reason."""
    job = db.session.get(importing.ImportJob, job_id) if job_id <= MAX_ID else None
    if job is None:
        raise ApiError(404, "There is no import with this id.")
    return _job_out(job, importing.job_rejections(db.session, job.id))


@api_route(
    "/subscribers/<int:subscriber_id>",
    role="editor",
    response=SubscriberDetailOut,
    summary="One subscriber, with their bounces and complaints",
    tags=TAGS,
)
def get_subscriber(subscriber_id: int):
    return _detail(_subscriber(subscriber_id))


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
