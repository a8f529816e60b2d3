"""Replies in the JSON API, for moderators: list a queue, read one, approve, reject, mark as
spam, bulk.

The author's address is in no answer unless the key has the admin role. Approving needs the
`text_hash` of the reply as the caller read it (`seen_hash`): a reply its author edited since
is refused with 409, never published unread.
"""

from __future__ import annotations

from typing import Annotated, Literal

from flask import Response
from pydantic import BaseModel, ConfigDict, Field
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
from engage.articles.models import Article
from engage.comments import service
from engage.comments.models import COMMENT_STATUSES, Comment
from engage.extensions import db

TAGS = ["comments"]
MAX_ID = 2**31 - 1


class CommentOut(BaseModel):
    id: int
    article: str = Field(description="The article's slug.")
    parent_id: int | None
    author_name: str
    body_html: str
    status: Literal[COMMENT_STATUSES]
    flags: list[str] = Field(description="needs_care, links, suspect, reported.")
    created_at: Timestamp
    edited_at: Timestamp | None = Field(description="When its author last changed it.")
    text_hash: str = Field(
        description="Identifies this text: send it back as `seen_hash` to approve the reply."
    )


class CommentAdminOut(CommentOut):
    author_email: str | None = Field(description="Only for keys with the admin role.")


class CommentQuery(PageQuery):
    status: Filter[Literal[COMMENT_STATUSES]] = None
    queue: Filter[Literal["needs_care", "reported", "pending"]] = Field(
        None, description="A moderation queue; combines with `status`."
    )


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seen_hash: str = Field(
        min_length=1,
        max_length=64,
        description="The reply's `text_hash` as you read it (from GET /comments or "
        "/comments/{id}). If its author has edited it since, the answer is 409 and nothing "
        "changes.",
    )


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=500)


# JSON object keys are strings: a reply id written as one.
CommentIdKey = Annotated[str, Field(pattern=r"^[0-9]{1,10}$")]


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[int] = Field(min_length=1, max_length=200)
    action: Literal["approve", "reject", "spam"]
    reason: str = Field("", max_length=500)
    seen: dict[CommentIdKey, Annotated[str, Field(max_length=64)]] = Field(
        default_factory=dict,
        max_length=200,
        json_schema_extra={"additionalProperties": False},
        description="Required to approve: each reply's `text_hash` as you read it, by id. "
        "Replies edited since (or not in `seen`) are listed in `stale` and left as they are.",
    )


class BulkOut(BaseModel):
    changed: list[int]
    unchanged: list[int]
    missing: list[int]
    stale: list[int] = Field(
        description="Replies not approved: their text changed since you read it."
    )


def _flags(comment: Comment, reported: set[int]) -> list[str]:
    flags = []
    if comment.flag_needs_care:
        flags.append("needs_care")
    if comment.flag_links:
        flags.append("links")
    if comment.flag_suspect:
        flags.append("suspect")
    if comment.id in reported:
        flags.append("reported")
    return flags


def _items(comments: list[Comment], admin: bool) -> list[dict]:
    from engage.comments.models import CommentReport

    ids = [c.id for c in comments]
    slugs = (
        dict(
            db.session.execute(
                select(Article.id, Article.slug).where(
                    Article.id.in_({c.article_id for c in comments})
                )
            ).all()
        )
        if comments
        else {}
    )
    reported = (
        set(
            db.session.scalars(
                select(CommentReport.comment_id).where(
                    CommentReport.comment_id.in_(ids), CommentReport.resolved_at.is_(None)
                )
            )
        )
        if ids
        else set()
    )
    items = []
    for c in comments:
        item = {
            "id": c.id,
            "article": slugs.get(c.article_id, ""),
            "parent_id": c.parent_id,
            "author_name": c.author_name,
            "body_html": c.body_html,
            "status": c.status,
            "flags": _flags(c, reported),
            "created_at": c.created_at,
            "edited_at": c.edited_at,
            "text_hash": service.seen_hash(c),
        }
        if admin:
            item["author_email"] = c.author_email
        items.append(item)
    return items


@api_route(
    "/comments",
    role="moderator",
    query=CommentQuery,
    response=Page[CommentOut],
    summary="List replies",
    tags=TAGS,
)
def list_comments(query: CommentQuery):
    """Filter by `status` and by `queue` (needs_care, reported, pending). Waiting queues are
    oldest first, the rest newest first. `author_email` is added only for admin keys."""
    if query.queue:
        statement = service.queue_statement(query.queue)
        if query.status:
            statement = statement.where(Comment.status == query.status)
    elif query.status:
        statement = (
            select(Comment)
            .where(Comment.status == query.status)
            .order_by(Comment.created_at.desc(), Comment.id.desc())
        )
    else:
        statement = select(Comment).order_by(Comment.created_at.desc(), Comment.id.desc())
    admin = current_api_key().role == "admin"
    page = paginate(db.session, statement, query)
    page["items"] = _items(page["items"], admin)
    model = Page[CommentAdminOut] if admin else Page[CommentOut]
    return Response(model.model_validate(page).model_dump_json(), mimetype="application/json")


def _comment(comment_id: int) -> Comment:
    comment = db.session.get(Comment, comment_id) if comment_id <= MAX_ID else None
    if comment is None:
        raise ApiError(404, "There is no reply with this id.")
    return comment


def _decide(comment_id: int, action: str, reason: str = "", seen: str | None = None):
    comment = _comment(comment_id)
    key = current_api_key()
    try:
        service.moderate(
            db.session,
            comment,
            action,
            reason=reason or f"by API key {key.name}",
            user_id=key.created_by_id,
            actor="api",
            seen=seen,
        )
    except service.ReplyChanged:
        raise ApiError(
            409,
            "This reply changed since you read it: its author edited it. Read it again "
            f"(GET /api/v1/comments/{comment.id}) and send its new text_hash as seen_hash.",
            code="reply_changed",
            fields={"seen_hash": "does not match the reply's current text_hash"},
        ) from None
    db.session.flush()
    return CommentOut.model_validate(_items([comment], False)[0])


@api_route(
    "/comments/<int:comment_id>",
    role="moderator",
    response=CommentOut,
    summary="One reply",
    tags=TAGS,
)
def get_comment(comment_id: int):
    """The reply as it is now, with its `text_hash`. `author_email` only for admin keys."""
    admin = current_api_key().role == "admin"
    [item] = _items([_comment(comment_id)], admin)
    model = CommentAdminOut if admin else CommentOut
    return Response(model.model_validate(item).model_dump_json(), mimetype="application/json")


@api_route(
    "/comments/<int:comment_id>/approve",
    methods=["POST"],
    role="moderator",
    body=ApproveIn,
    response=CommentOut,
    summary="Approve a reply",
    tags=TAGS,
    answers=[
        Answer(409, "The reply changed since you read it (`reply_changed`): nothing changed.")
    ],
)
def approve_comment(comment_id: int, body: ApproveIn):
    """Send `{"seen_hash": "<the reply's text_hash as you read it>"}`: it publishes the reply
    and emails the author of the reply it answers, if they asked. If its author edited the
    reply since you read it, the answer is 409 (`reply_changed`) and nothing changes; read it
    again with GET /comments/{comment_id}. A request without this body is refused (415 or
    422): approving text nobody read is what the check exists to stop."""
    return _decide(comment_id, "approve", seen=body.seen_hash)


@api_route(
    "/comments/<int:comment_id>/reject",
    methods=["POST"],
    role="moderator",
    body=RejectIn,
    response=CommentOut,
    summary="Reject a reply",
    tags=TAGS,
)
def reject_comment(comment_id: int, body: RejectIn):
    """Send `{"reason": "…"}` (or `{}`)."""
    return _decide(comment_id, "reject", body.reason.strip())


@api_route(
    "/comments/<int:comment_id>/spam",
    methods=["POST"],
    role="moderator",
    response=CommentOut,
    summary="Mark a reply as spam",
    tags=TAGS,
)
def spam_comment(comment_id: int):
    return _decide(comment_id, "spam")


@api_route(
    "/comments/bulk",
    methods=["POST"],
    role="moderator",
    body=BulkIn,
    response=BulkOut,
    summary="Decide several replies at once",
    tags=TAGS,
)
def bulk_comments(body: BulkIn):
    """One action for up to 200 ids; ids that name no reply are listed in `missing`.

    To approve, send `seen` (id → `text_hash` as you read it): replies edited since, or
    without a hash, are listed in `stale` and not approved.
    """
    ids = [i for i in dict.fromkeys(body.ids) if 0 < i <= MAX_ID]
    comments = {c.id: c for c in db.session.scalars(select(Comment).where(Comment.id.in_(ids)))}
    key = current_api_key()
    changed, unchanged, stale = [], [], []
    # Rows are locked in id order, as every bulk request does, so two cannot deadlock; the
    # answer keeps the order the ids were sent in.
    for comment_id in sorted(ids):
        comment = comments.get(comment_id)
        if comment is None:
            continue
        try:  # raised before anything is changed
            did = service.moderate(
                db.session,
                comment,
                body.action,
                reason=body.reason.strip() or f"by API key {key.name}",
                user_id=key.created_by_id,
                actor="api",
                seen=body.seen.get(str(comment_id), "") if body.action == "approve" else None,
            )
        except service.ReplyChanged:
            stale.append(comment_id)
            continue
        (changed if did else unchanged).append(comment_id)
    missing = [i for i in body.ids if i not in comments]
    sent = {comment_id: position for position, comment_id in enumerate(ids)}
    for found in (changed, unchanged, stale):
        found.sort(key=sent.__getitem__)
    return BulkOut(changed=changed, unchanged=unchanged, missing=missing, stale=stale)
