"""Newsletters in the JSON API, for editors: create, read progress, schedule, steer, test."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from engage.api import ApiError, OneLine, Timestamp, api_route, current_api_key
from engage.api.pagination import Page, PageQuery, page_url
from engage.extensions import db
from engage.newsletters import report, service
from engage.newsletters.models import NEWSLETTER_STATUSES, Newsletter

MAX_ID = 2**31 - 1
TAGS = ["newsletters"]


class NewsletterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: OneLine = Field(
        min_length=1, max_length=200, description="Needs more than spaces; runs of spaces collapse."
    )
    preheader: OneLine = Field(
        "", max_length=200, description="Preview text shown by mail apps (one line)."
    )
    body_markdown: str | None = Field(None, max_length=200_000)
    body_mjml: str | None = Field(
        None, max_length=200_000, description="MJML column content; wins over Markdown."
    )
    topics: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list,
        max_length=50,
        description="Slugs of existing topics to send to (needed before scheduling).",
    )


class CountsOut(BaseModel):
    total: int
    sent: int
    failed: int
    pending: int = Field(description="Not yet sent (including rows a worker holds).")
    deferred: int = Field(
        default=0,
        description="Of the pending: refused for now by the reader's mail server, tried again "
        "later with backoff.",
    )
    bounced: int = Field(default=0, description="Of the failed: hard and soft bounces.")
    skipped: int


class NewsletterOut(BaseModel):
    id: int
    status: Literal[NEWSLETTER_STATUSES]
    subject: str
    topics: list[str]
    scheduled_at: Timestamp | None
    started_at: Timestamp | None
    finished_at: Timestamp | None
    paused_reason: str
    counts: CountsOut
    rate_per_second: float
    eta_seconds: float | None


class ScheduleIn(BaseModel):
    """No confirmation field: an API client asks on purpose. The editor's pages confirm."""

    model_config = ConfigDict(extra="forbid")

    send_at: Literal["now"] | Timestamp = Field(description='ISO 8601 with an offset, or "now".')


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=500)


class TestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(max_length=320, description="A valid email address.")


def _newsletter(newsletter_id: int) -> Newsletter:
    newsletter = db.session.get(Newsletter, newsletter_id) if newsletter_id <= MAX_ID else None
    if newsletter is None:
        raise ApiError(404, "There is no newsletter with this id.")
    return newsletter


def _out(newsletter: Newsletter) -> NewsletterOut:
    progress = service.progress(db.session, newsletter)
    return NewsletterOut(
        id=newsletter.id,
        status=newsletter.status,
        subject=newsletter.subject,
        topics=sorted(topic.slug for topic in newsletter.topics),
        scheduled_at=newsletter.scheduled_at,
        started_at=newsletter.started_at,
        finished_at=newsletter.finished_at,
        paused_reason=newsletter.paused_reason,
        counts=CountsOut(**{key: progress[key] for key in CountsOut.model_fields}),
        rate_per_second=progress["rate_per_second"],
        eta_seconds=progress["eta_seconds"],
    )


def _refused(exc: service.NewsletterError, fields: tuple[str, ...] = ()) -> ApiError:
    """409 for what the newsletter's state refuses, 422 for a field of this request."""
    if exc.field is None or (fields and exc.field not in fields):
        return ApiError(409, str(exc))
    return ApiError(422, "Some fields are not valid.", fields={exc.field: str(exc)})


def _render_error(exc: service.NewsletterRenderError, field: str) -> ApiError:
    message = str(exc) if exc.line is None else f"Line {exc.line}: {exc}"
    return ApiError(422, "The newsletter could not be rendered.", fields={field: message})


@api_route(
    "/newsletters",
    methods=["POST"],
    role="editor",
    body=NewsletterIn,
    response=NewsletterOut,
    status=201,
    summary="Create a newsletter (a draft)",
    tags=TAGS,
    errors={
        422: "Also for a subject of only spaces, no body, a body that does not render, or a "
        "slug in `topics` that names no topic."
    },
)
def create_newsletter(body: NewsletterIn):
    """`body_mjml` (column content: mj-text, mj-button…) or `body_markdown`. A body that does
    not render answers 422 with the renderer's message; unknown topics answer 422."""
    key = current_api_key()
    try:
        newsletter = service.create_newsletter(
            db.session,
            subject=body.subject,
            preheader=body.preheader,
            body_markdown=body.body_markdown,
            body_mjml=body.body_mjml,
            topic_slugs=body.topics,
            created_by_id=getattr(key, "created_by_id", None),
        )
    except service.NewsletterRenderError as exc:
        raise _render_error(exc, "body_mjml" if body.body_mjml else "body_markdown") from None
    except service.NewsletterError as exc:
        raise _refused(exc) from None
    return _out(newsletter)


@api_route(
    "/newsletters/<int:newsletter_id>",
    role="editor",
    response=NewsletterOut,
    summary="A newsletter and the progress of its send",
    tags=TAGS,
)
def get_newsletter(newsletter_id: int):
    return _out(_newsletter(newsletter_id))


@api_route(
    "/newsletters/<int:newsletter_id>/schedule",
    methods=["POST"],
    role="editor",
    body=ScheduleIn,
    response=NewsletterOut,
    summary="Schedule a newsletter, or send it now",
    tags=TAGS,
    errors={
        409: "The newsletter is not a draft, scheduled or missed, or it has no topics to send to.",
        422: "Also for a time more than a minute in the past.",
    },
)
def schedule_newsletter(newsletter_id: int, body: ScheduleIn):
    """From draft, scheduled or missed (409 otherwise). A time more than a minute in the past
    answers 422."""
    newsletter = _newsletter(newsletter_id)
    try:
        if body.send_at == "now":
            service.send_now(db.session, newsletter)
        else:
            assert isinstance(body.send_at, datetime)
            service.schedule(db.session, newsletter, body.send_at)
    except service.NewsletterError as exc:
        raise _refused(exc, fields=tuple(ScheduleIn.model_fields)) from None
    return _out(newsletter)


@api_route(
    "/newsletters/<int:newsletter_id>/pause",
    methods=["POST"],
    role="editor",
    body=PauseIn,
    response=NewsletterOut,
    summary="Pause a send",
    tags=TAGS,
    errors={409: "The newsletter is not sending."},
)
def pause_newsletter(newsletter_id: int, body: PauseIn):
    """Only while sending (409 otherwise); the message in flight still goes."""
    newsletter = _newsletter(newsletter_id)
    try:
        service.pause(db.session, newsletter, body.reason)
    except service.NewsletterError as exc:
        raise _refused(exc) from None
    return _out(newsletter)


@api_route(
    "/newsletters/<int:newsletter_id>/resume",
    methods=["POST"],
    role="editor",
    response=NewsletterOut,
    summary="Resume a paused send",
    tags=TAGS,
    errors={409: "The newsletter is not paused."},
)
def resume_newsletter(newsletter_id: int):
    """Continues with the readers not yet sent to; nobody gets it twice."""
    newsletter = _newsletter(newsletter_id)
    try:
        service.resume(db.session, newsletter)
    except service.NewsletterError as exc:
        raise _refused(exc) from None
    return _out(newsletter)


@api_route(
    "/newsletters/<int:newsletter_id>/cancel",
    methods=["POST"],
    role="editor",
    response=NewsletterOut,
    summary="Cancel a newsletter",
    tags=TAGS,
    errors={409: "The newsletter is not scheduled, missed, sending or paused."},
)
def cancel_newsletter(newsletter_id: int):
    """Readers not yet sent to are skipped. From scheduled, missed, sending or paused."""
    newsletter = _newsletter(newsletter_id)
    try:
        service.cancel(db.session, newsletter)
    except service.NewsletterError as exc:
        raise _refused(exc) from None
    return _out(newsletter)


@api_route(
    "/newsletters/<int:newsletter_id>/test",
    methods=["POST"],
    role="editor",
    body=TestIn,
    status=202,
    summary="Send a test copy",
    tags=TAGS,
    errors={422: "Also when `to` is not a usable email address."},
)
def test_newsletter(newsletter_id: int, body: TestIn):
    """Sends the newsletter as it stands to `to` from a worker, "[Test]" in the subject, with
    links that work but belong to nobody."""
    newsletter = _newsletter(newsletter_id)
    try:
        service.send_test(newsletter, body.to)
    except service.NewsletterError as exc:
        raise _refused(exc) from None
    return {"queued": True, "to": body.to}


@api_route(
    "/newsletters/<int:newsletter_id>/duplicate",
    methods=["POST"],
    role="editor",
    response=NewsletterOut,
    status=201,
    summary="Copy a newsletter into a new draft",
    tags=TAGS,
)
def duplicate_newsletter(newsletter_id: int):
    """A new draft with the same content and topics, its subject "Copy of …" (cut to 200
    characters). Any newsletter can be copied, whatever its state."""
    key = current_api_key()
    copy = service.duplicate(
        db.session, _newsletter(newsletter_id), getattr(key, "created_by_id", None)
    )
    return _out(copy)


@api_route(
    "/newsletters/<int:newsletter_id>",
    methods=["DELETE"],
    role="editor",
    status=204,
    summary="Delete a draft",
    tags=TAGS,
    errors={409: "The newsletter is not a draft: scheduled and sent newsletters stay."},
)
def delete_newsletter(newsletter_id: int):
    """Only a draft can be deleted (409 otherwise); unschedule a scheduled one first."""
    try:
        service.delete_draft(db.session, _newsletter(newsletter_id))
    except service.NewsletterError as exc:
        raise _refused(exc) from None


class ReportCountsOut(BaseModel):
    total: int = Field(description="Readers in the send's audience snapshot.")
    delivered: int = Field(description="Accepted by the reader's mail server.")
    deferred: int = Field(description="Refused for now; tried again later with backoff.")
    pending: int = Field(description="Not sent yet (deferred included).")
    failed: int
    skipped: int = Field(description="Not sent because the send was cancelled.")
    hard_bounces: int
    soft_bounces: int
    complaints: int
    unsubscribes: int = Field(
        description="Readers who unsubscribed within 7 days after this send reached them, "
        "before another newsletter did (bounces and complaints not included)."
    )


class ProblemOut(BaseModel):
    address: str = Field(description="Masked: the first letter and the domain.")
    outcome: Literal["Delivered", "Failed", "Waiting", "Deferred", "Sending", "Skipped"]
    bounce: Literal["", "hard", "soft", "complaint"]
    attempts: int
    server_reply: str = Field(description="The last server reply or report, addresses masked.")
    at: Timestamp


class ReportOut(BaseModel):
    id: int
    status: Literal[NEWSLETTER_STATUSES]
    counts: ReportCountsOut
    problems: Page[ProblemOut]


@api_route(
    "/newsletters/<int:newsletter_id>/report",
    role="editor",
    query=PageQuery,
    response=ReportOut,
    summary="A send's report: counts and the rows with problems",
    tags=TAGS,
)
def newsletter_report(newsletter_id: int, query: PageQuery):
    """Counts of what became of the send's messages, and a page of the rows that failed, were
    deferred or drew a bounce or complaint, oldest first. Addresses are masked."""
    newsletter = _newsletter(newsletter_id)
    items, total = report.problems_page(db.session, newsletter.id, query.page, query.per_page)
    pages = math.ceil(total / query.per_page)
    problems = {
        "items": items,
        "page": query.page,
        "per_page": query.per_page,
        "total": total,
        "pages": pages,
        "next": page_url(query.page + 1) if query.page < pages else None,
    }
    return {
        "id": newsletter.id,
        "status": newsletter.status,
        "counts": report.counts(db.session, newsletter.id),
        "problems": problems,
    }
