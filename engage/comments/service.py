"""Reply rules: posting through the checks, author edits, moderation, reports, sanctions,
erasure, and the thread readers see. Plain arguments in; functions flush, the caller commits.

Work for a worker (moderator emails, reply notifications) is enqueued here and sent by
`engage.queue` only once the caller's transaction commits.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session

from engage.accounts import notifications
from engage.articles.models import Article
from engage.comments import checks
from engage.comments.models import (
    REPORT_REASONS,
    SANCTION_KINDS,
    Comment,
    Commenter,
    CommentReport,
    DomainRule,
    ModerationAction,
    Sanction,
)
from engage.queue import enqueue
from engage.subscriptions.service import InvalidAddress, address_hash, normalise_email, printable
from engage.types import opaque_id, utcnow

EDIT_WINDOW = timedelta(minutes=15)
MAX_DEPTH = 4
DECISIONS = {"approve": "approved", "reject": "rejected", "spam": "spam"}
REJECT_REASONS = (
    "Off topic",
    "Unkind or abusive",
    "Shares private information",
    "Advertising",
    "Medical claims we cannot check",
    "Other",
)
ERASED_NAME = "Erased"
# What a reader who erased their data is called under the replies they leave behind.
FORMER_READER = "Former reader"


class ReplyError(ValueError):
    """The reply cannot be taken or changed; the message is fit to show the reader.

    `errors` holds every field's message ({field: message}, in the form's order); `field` and
    the message are the first of them.
    """

    def __init__(self, message: str, field: str = "body", errors: dict[str, str] | None = None):
        super().__init__(message)
        self.field = field
        self.errors = errors or {field: message}


class ReplyChanged(ReplyError):
    """A moderator approved a text the reply no longer has: nothing was changed."""

    def __init__(self, comment: Comment):
        super().__init__("This reply changed since you read it.", "seen")
        self.comment = comment


LOCKED_MESSAGE = (
    "A moderator has already read this reply, so it can no longer be changed. "
    "You can still delete it."
)


@dataclass
class Posted:
    comment: Comment
    decision: checks.Decision
    duplicate: bool = False


def text_hash(text: str) -> str:
    """Ties an edit cookie, or a moderator's decision, to the reply's current text."""
    return hashlib.sha256((text or "").encode()).hexdigest()[:32]


def seen_hash(comment: Comment) -> str:
    """What a moderator's form, emailed link or API call sends back as the text it read."""
    return text_hash(comment.body_markdown)


def _lock(session: Session, comment: Comment) -> None:
    """Reload the reply under a row lock (PostgreSQL; SQLite writers queue anyway), so an
    author's edit and a moderator's decision never interleave."""
    session.flush()
    session.refresh(comment, with_for_update=True)


def _settings():
    return current_app.config["ENGAGE"]


def get_commenter(session: Session, email_hash: str) -> Commenter | None:
    return session.scalar(select(Commenter).where(Commenter.email_hash == email_hash))


def _commenter(session: Session, address: str, email_hash: str, now: datetime) -> Commenter:
    commenter = get_commenter(session, email_hash)
    if commenter is None:
        commenter = Commenter(
            email_hash=email_hash, email=address, unsubscribe_id=opaque_id(), created_at=now
        )
        session.add(commenter)
    else:
        commenter.email = address
    return commenter


def record(
    session: Session,
    comment: Comment,
    action: str,
    reason: str = "",
    *,
    user_id: int | None = None,
    actor: str = "system",
    now: datetime | None = None,
) -> ModerationAction:
    """Append one moderation action (who, what, why, when). Never updated afterwards."""
    entry = ModerationAction(
        comment_id=comment.id,
        actor_user_id=user_id,
        actor=actor,
        action=action,
        reason=printable(reason, 500),
        created_at=now or utcnow(),
    )
    session.add(entry)
    return entry


def immediate_choices(comment: Comment) -> set[str]:
    """Who hears about this held reply at once: those on `immediate`, and for a reply that
    needs care those on `batched` too (a reader in crisis does not wait for the batch)."""
    return {"immediate", "batched"} if comment.flag_needs_care else {"immediate"}


def _apply(session: Session, comment: Comment, decision: checks.Decision, now: datetime) -> None:
    comment.status = decision.status
    comment.flag_needs_care = decision.needs_care
    comment.flag_suspect = decision.suspect
    comment.flag_links = comment.link_count > checks.MAX_LINKS
    session.flush()
    record(session, comment, f"check:{decision.check}:{decision.status}", decision.reason, now=now)
    if decision.status == "pending":
        comment.moderators_notified_at = None
        # Only when someone is to hear at once; the rest is the beat's batched/daily email.
        choices = immediate_choices(comment)
        if notifications.recipients(session, "held_replies", choices):
            enqueue("engage.comments.notify_moderators", comment.id)
    elif decision.status == "approved":
        _after_approval(session, comment)


def reply_problems(name: str, email: str, body: str, comments_open: bool) -> dict[str, str]:
    """Every reason a reply cannot be posted as it is, {field: message} in the form's order
    (body, name, email); empty when it may go on to the checks. Queries nothing."""
    problems = checks.length_and_thread_problems(
        printable(name, 200).strip(), body or "", comments_open
    )
    if comments_open:
        try:
            normalise_email(email)
        except InvalidAddress as exc:
            problems["email"] = str(exc)
    return problems


def post_reply(
    session: Session,
    article: Article,
    *,
    name: str,
    email: str,
    body: str,
    parent_id: int | None = None,
    notify: bool = False,
    staff: bool = False,
    now: datetime | None = None,
) -> Posted:
    """Take a reader's reply through the checks and store it with the decision.

    Raises ReplyError (`.errors` holds every field's message) for a reply that cannot be taken
    as it is; nothing is stored then. A repeat of the same text within 10 minutes returns the
    earlier reply.
    """
    now = now or utcnow()
    name = printable(name, 200).strip()
    body = (body or "").replace("\r\n", "\n").replace("\0", "")
    problems = reply_problems(name, email, body, article.comments_open)
    if problems:
        field_name, message = next(iter(problems.items()))
        raise ReplyError(message, field_name, problems)
    address = normalise_email(email)
    parent = None
    if parent_id is not None:
        parent = session.get(Comment, parent_id)
        if parent is None or parent.article_id != article.id or parent.status != "approved":
            raise ReplyError("The reply you are answering is not available any more.", "body")
    html, links = checks.sanitise(body)
    email_hash = address_hash(address)
    poster = checks.Poster(email_hash, address.rpartition("@")[2], staff=staff)
    decision = checks.run(session, _settings(), poster=poster, body=body, link_count=links, now=now)
    if decision.duplicate_of is not None:
        return Posted(decision.duplicate_of, decision, duplicate=True)
    commenter = _commenter(session, address, email_hash, now)
    comment = Comment(
        article_id=article.id,
        parent_id=parent.id if parent else None,
        author_name=name,
        author_email=address,
        author_email_hash=email_hash,
        body_markdown=body,
        body_html=html,
        status="pending",
        link_count=links,
        notify_replies=bool(notify),
        created_at=now,
    )
    session.add(comment)
    session.flush()
    _apply(session, comment, decision, now)
    if notify and not commenter.wants_notifications:
        _ask_to_confirm_notifications(session, commenter, now)
    session.flush()
    return Posted(comment, decision)


def _ask_to_confirm_notifications(session: Session, commenter: Commenter, now: datetime) -> None:
    last = commenter.confirmation_sent_at
    if last is not None and now - last < timedelta(minutes=10):
        return
    commenter.confirmation_sent_at = now
    session.flush()
    from engage.comments import emails

    emails.queue_notify_confirmation(commenter)


def can_edit(comment: Comment, now: datetime | None = None) -> bool:
    """Within 15 minutes of posting, and not deleted: the author may delete it, and change it
    unless `is_locked`. The cookie is checked by the caller."""
    now = now or utcnow()
    return comment.deleted_at is None and now - comment.created_at <= EDIT_WINDOW


def is_locked(comment: Comment) -> bool:
    """A moderator decided on this text: the author can no longer change it."""
    return comment.moderated_at is not None


def edit_reply(session: Session, comment: Comment, body: str, now: datetime | None = None):
    """Change the text; the reply goes through the checks again.

    Raises ReplyError after 15 minutes, and once a moderator has decided on the reply (the
    row is locked first, so a decision being taken at this moment wins or sees the new text).
    """
    now = now or utcnow()
    if not can_edit(comment, now):
        raise ReplyError("Replies can be changed for 15 minutes after posting.")
    _lock(session, comment)
    if is_locked(comment):
        raise ReplyError(LOCKED_MESSAGE)
    body = (body or "").replace("\r\n", "\n").replace("\0", "")
    article = session.get(Article, comment.article_id)
    try:
        checks.check_length_and_thread(comment.author_name, body, article.comments_open)
    except checks.Refused as exc:
        raise ReplyError(str(exc), exc.field) from None
    html, links = checks.sanitise(body)
    domain = (comment.author_email or "").rpartition("@")[2]
    poster = checks.Poster(comment.author_email_hash, domain)
    decision = checks.run(
        session,
        _settings(),
        poster=poster,
        body=body,
        link_count=links,
        now=now,
        comment_id=comment.id,
    )
    comment.body_markdown = body
    comment.body_html = html
    comment.link_count = links
    comment.edited_at = now
    record(session, comment, "edited", "edited by the author", actor="author", now=now)
    _apply(session, comment, decision, now)
    return decision


def delete_reply(session: Session, comment: Comment, now: datetime | None = None) -> None:
    """The author deletes their reply: text, name and address go; answers keep their place."""
    now = now or utcnow()
    comment.body_markdown = ""
    comment.body_html = ""
    comment.author_email = None
    comment.deleted_at = now
    record(session, comment, "deleted", "deleted by the author", actor="author", now=now)
    session.flush()


def moderate(
    session: Session,
    comment: Comment,
    action: str,
    *,
    reason: str = "",
    user_id: int | None = None,
    actor: str = "user",
    now: datetime | None = None,
    seen: str | None = None,
    kind_note: bool = False,
) -> bool:
    """Approve, reject or mark as spam. Returns False if the reply already had that status.

    `seen` is the `seen_hash` of the text the moderator read: an approval of a reply whose
    text has changed since raises ReplyChanged and changes nothing (rejecting is safe, and
    goes ahead). Every caller acting for a person passes it; None skips the check.
    After any decision the author can no longer edit the reply (`is_locked`).
    Resolves the reply's open reports; an approval queues the reply notification, and tells
    an author who asked for reply emails that their reply is live (once per reply). A
    rejection with `kind_note` sends that author a gentle note instead of silence.
    Raises ValueError for an unknown action.
    """
    if action not in DECISIONS:
        raise ValueError(f"unknown moderation action {action!r}")
    now = now or utcnow()
    if seen is not None and action == "approve":
        _lock(session, comment)
        if seen != seen_hash(comment):
            raise ReplyChanged(comment)
    status = DECISIONS[action]
    reports = session.execute(
        update(CommentReport)
        .where(CommentReport.comment_id == comment.id, CommentReport.resolved_at.is_(None))
        .values(resolved_at=now)
    ).rowcount
    if comment.status == status and not reports:
        return False
    previous = comment.status
    comment.status = status
    comment.moderated_at = now
    record(session, comment, action, reason, user_id=user_id, actor=actor, now=now)
    session.flush()
    if status == "approved" and previous != "approved":
        _after_approval(session, comment)
        _tell_author(session, comment, "live", now)
    elif status == "rejected" and kind_note:
        _tell_author(session, comment, "not_published", now)
    return True


def _tell_author(session: Session, comment: Comment, kind: str, now: datetime) -> None:
    from engage.comments import emails  # emails builds on this module

    emails.tell_author(session, comment, kind, now)


def _after_approval(session: Session, comment: Comment) -> None:
    """Queue the email to the author of the reply this one answers, if they asked for it."""
    if comment.parent_id is None:
        return
    parent = session.get(Comment, comment.parent_id)
    if (
        parent is None
        or not parent.notify_replies
        or parent.deleted_at is not None
        or parent.author_email is None
        or parent.author_email_hash == comment.author_email_hash
    ):
        return
    commenter = get_commenter(session, parent.author_email_hash)
    if commenter is not None and commenter.wants_notifications:
        enqueue("engage.comments.notify_reply", comment.id)


def report(session: Session, comment: Comment, reason: str, now: datetime | None = None):
    """A reader reports a published reply. Raises ReplyError for an unknown reason."""
    if reason not in REPORT_REASONS:
        raise ReplyError("Please choose a reason from the list.", "reason")
    if comment.status != "approved" or comment.deleted_at is not None:
        raise ReplyError("This reply cannot be reported.", "reason")
    entry = CommentReport(comment_id=comment.id, reason=reason, created_at=now or utcnow())
    session.add(entry)
    session.flush()
    record(session, comment, "reported", REPORT_REASONS[reason], actor="reader", now=now)
    return entry


# --- Sanctions ----------------------------------------------------------------------------


def sanction(session: Session, email_hash: str, kind: str, *, user_id=None, reason="") -> bool:
    """Ban or pre-moderate an address (by its keyed hash). False if it already was."""
    if kind not in SANCTION_KINDS:
        raise ValueError(f"unknown sanction {kind!r}")
    found = session.scalar(
        select(Sanction).where(Sanction.email_hash == email_hash, Sanction.kind == kind)
    )
    if found is not None:
        return False
    session.add(
        Sanction(
            email_hash=email_hash, kind=kind, created_by_id=user_id, reason=printable(reason, 500)
        )
    )
    session.flush()
    return True


def lift_sanction(session: Session, email_hash: str, kind: str) -> None:
    session.execute(
        delete(Sanction).where(Sanction.email_hash == email_hash, Sanction.kind == kind)
    )
    session.flush()


def sanction_address(session: Session, address: str, kind: str, *, user_id=None) -> str:
    """Sanction a typed address; returns its hash. Raises InvalidAddress."""
    email_hash = address_hash(normalise_email(address))
    sanction(session, email_hash, kind, user_id=user_id)
    return email_hash


def sanctions_of(session: Session, email_hash: str) -> set[str]:
    return set(session.scalars(select(Sanction.kind).where(Sanction.email_hash == email_hash)))


def normalise_domain(raw: str) -> str:
    """A bare domain, lower case, without a leading '@' or dot. Raises ReplyError."""
    domain = (raw or "").strip().lower().lstrip("@").strip(".")
    labels = domain.split(".")
    if (
        not domain
        or len(domain) > 253
        or len(labels) < 2
        or not all(label and len(label) <= 63 for label in labels)
        or not all(ch.isalnum() or ch in "-." for ch in domain)
    ):
        raise ReplyError("Please enter a domain such as example.org.", "domain")
    return domain


def set_domain_rule(session: Session, raw: str, kind: str, *, user_id=None) -> DomainRule:
    if kind not in SANCTION_KINDS:
        raise ValueError(f"unknown rule {kind!r}")
    domain = normalise_domain(raw)
    rule = session.scalar(select(DomainRule).where(DomainRule.domain == domain))
    if rule is None:
        rule = DomainRule(domain=domain, kind=kind, created_by_id=user_id)
        session.add(rule)
    else:
        rule.kind = kind
    session.flush()
    return rule


def remove_domain_rule(session: Session, rule_id: int) -> None:
    session.execute(delete(DomainRule).where(DomainRule.id == rule_id))
    session.flush()


def erase_commenter(session: Session, email_hash: str, *, user_id=None, now=None) -> int:
    """Erase a commenter: every reply's text, name and address, and their notification
    settings. The moderation history keeps only that it happened. Returns replies erased."""
    now = now or utcnow()
    ids = session.scalars(select(Comment.id).where(Comment.author_email_hash == email_hash)).all()
    session.execute(
        update(Comment)
        .where(Comment.author_email_hash == email_hash)
        .values(
            author_name=ERASED_NAME,
            author_email=None,
            body_markdown="",
            body_html="",
            notify_replies=False,
            deleted_at=func.coalesce(Comment.deleted_at, now),
        )
        .execution_options(synchronize_session="fetch")
    )
    for comment_id in ids:
        session.add(
            ModerationAction(
                comment_id=comment_id,
                actor_user_id=user_id,
                actor="user",
                action="erased",
                reason="the commenter's data was erased",
                created_at=now,
            )
        )
    commenter = get_commenter(session, email_hash)
    if commenter is not None:
        commenter.email = None
        commenter.notify_confirmed_at = None
        commenter.notify_stopped_at = now
    session.flush()
    return len(ids)


def anonymise_author(session: Session, email_hash: str, now: datetime | None = None) -> int:
    """A reader erased their data: their replies stay where they are (answers keep their
    place) but as "Former reader", without their address, and no longer tied to it or to
    each other; their reply-notification opt-ins and their commenter row go.

    Sanctions on the address stay (keyed hashes, like the suppression list). Returns the
    number of replies anonymised; flushes, the caller commits.
    """
    now = now or utcnow()
    comments = session.scalars(
        select(Comment).where(Comment.author_email_hash == email_hash).order_by(Comment.id)
    ).all()
    for comment in comments:
        comment.author_name = FORMER_READER
        comment.author_email = None
        # A random stand-in: the replies can no longer be found, grouped or linked again by
        # the address (it can never equal a real keyed hash, which is hex).
        comment.author_email_hash = f"erased-{secrets.token_hex(16)}"
        comment.notify_replies = False
        record(
            session,
            comment,
            "anonymised",
            "the author erased their data",
            actor="reader",
            now=now,
        )
    session.execute(delete(Commenter).where(Commenter.email_hash == email_hash))
    session.flush()
    return len(comments)


def export_author(session: Session, email_hash: str) -> dict:
    """Every reply written from an address, and its reply-notification settings, as
    JSON-ready data for the reader's own export."""
    from engage.urls import external_url

    rows = session.execute(
        select(Comment, Article.title, Article.slug)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.author_email_hash == email_hash)
        .order_by(Comment.created_at, Comment.id)
    ).all()
    commenter = get_commenter(session, email_hash)
    return {
        "replies": [
            {
                "article": title,
                "url": external_url("articles.show", slug=slug) + f"#c-{comment.id}",
                "display_name": comment.author_name,
                "email": comment.author_email,
                "text": comment.body_markdown,
                "status": comment.status,
                "in_reply_to": comment.parent_id,
                "notify_replies": comment.notify_replies,
                "created_at": _iso(comment.created_at),
                "edited_at": _iso(comment.edited_at),
                "deleted_at": _iso(comment.deleted_at),
            }
            for comment, title, slug in rows
        ],
        "reply_notifications": None
        if commenter is None
        else {
            "email": commenter.email,
            "confirmed_at": _iso(commenter.notify_confirmed_at),
            "stopped_at": _iso(commenter.notify_stopped_at),
            "created_at": _iso(commenter.created_at),
        },
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- Reply notifications: double opt-in and unsubscribe ---------------------------------


def confirm_notifications(session: Session, commenter_id: int, now=None) -> Commenter | None:
    commenter = session.get(Commenter, commenter_id)
    if commenter is None or commenter.email is None:
        return None
    commenter.notify_confirmed_at = now or utcnow()
    commenter.notify_stopped_at = None
    session.flush()
    return commenter


def find_by_unsubscribe_id(session: Session, unsubscribe_id: str) -> Commenter | None:
    if not unsubscribe_id or len(unsubscribe_id) > 64:
        return None
    return session.scalar(select(Commenter).where(Commenter.unsubscribe_id == unsubscribe_id))


def stop_notifications(session: Session, commenter: Commenter, now=None) -> None:
    if commenter.notify_stopped_at is None:
        commenter.notify_stopped_at = now or utcnow()
        session.flush()


# --- The thread readers see -------------------------------------------------------------


@dataclass
class Node:
    comment: Comment
    depth: int
    in_reply_to: str | None = None
    own: bool = False
    children: list[Node] = field(default_factory=list)
    anchor: Node | None = None  # the depth-4 ancestor a deeper reply is listed under
    deletable: bool = False  # the reader's own reply, still inside the 15-minute window
    editable: bool = False  # ... and no moderator has decided on it yet


@dataclass
class Thread:
    roots: list[Node]
    count: int
    by_id: dict[int, Node]
    own_needs_care: bool = False


_THREAD_COLUMNS = (
    Comment.id,
    Comment.parent_id,
    Comment.author_name,
    Comment.body_html,
    Comment.status,
    Comment.flag_needs_care,
    Comment.created_at,
    Comment.edited_at,
    Comment.deleted_at,
    Comment.moderated_at,
)


def thread(session: Session, article_id: int, own_ids: set[int] | None = None) -> Thread:
    """The approved replies of an article as a tree, oldest first, depth capped at 4.

    A deeper reply is shown under its depth-4 ancestor with "in reply to NAME". The reader's
    own replies still awaiting moderation (`own_ids`, proven by their cookies) are included,
    marked `own`. Two queries at most, whatever the number of replies.
    """
    from sqlalchemy.orm import load_only

    query = (
        select(Comment)
        .options(load_only(*_THREAD_COLUMNS[1:], raiseload=True))
        .where(Comment.article_id == article_id)
        .order_by(Comment.created_at, Comment.id)
    )
    own_ids = {i for i in (own_ids or set()) if isinstance(i, int)}
    if own_ids:
        query = query.where(
            (Comment.status == "approved")
            | (Comment.id.in_(own_ids) & (Comment.status == "pending"))
        )
    else:
        query = query.where(Comment.status == "approved")
    rows = session.scalars(query).all()
    now = utcnow()
    by_id: dict[int, Node] = {}
    roots: list[Node] = []
    own_needs_care = False
    for comment in rows:
        parent = by_id.get(comment.parent_id) if comment.parent_id else None
        node = Node(comment, 1, own=comment.id in own_ids)
        node.deletable = (
            node.own and comment.deleted_at is None and now - comment.created_at <= EDIT_WINDOW
        )
        node.editable = node.deletable and comment.moderated_at is None
        own_needs_care = own_needs_care or (
            node.own and comment.status == "pending" and comment.flag_needs_care
        )
        if parent is None:
            roots.append(node)
        elif parent.depth < MAX_DEPTH and parent.in_reply_to is None:
            node.depth = parent.depth + 1
            parent.children.append(node)
        else:
            # Too deep to indent further: listed under the depth-4 ancestor, saying to whom.
            node.depth = MAX_DEPTH
            node.in_reply_to = parent.comment.author_name
            node.anchor = parent.anchor or parent
            node.anchor.children.append(node)
        by_id[comment.id] = node
    _prune_deleted(roots)
    count = sum(
        1 for n in by_id.values() if n.comment.status == "approved" and not n.comment.deleted_at
    )
    return Thread(roots, count, by_id, own_needs_care)


def _prune_deleted(nodes: list[Node]) -> None:
    """Drop deleted replies with no visible answers; keep the others as a blank in the thread."""
    keep = []
    for node in nodes:
        _prune_deleted(node.children)
        if node.comment.deleted_at is None or node.children:
            keep.append(node)
    nodes[:] = keep


# --- The moderation queue ---------------------------------------------------------------

QUEUES = ("pending", "needs_care", "reported", "approved", "rejected", "spam")


def queue_filter(name: str):
    """The WHERE clause of a queue tab. Raises KeyError for an unknown tab."""
    if name == "pending":
        return (Comment.status == "pending") & ~Comment.flag_needs_care
    if name == "needs_care":
        return (Comment.status == "pending") & Comment.flag_needs_care
    if name == "reported":
        open_reports = select(CommentReport.id).where(
            CommentReport.comment_id == Comment.id, CommentReport.resolved_at.is_(None)
        )
        return open_reports.exists()
    if name in ("approved", "rejected", "spam"):
        return Comment.status == name
    raise KeyError(name)


def queue_counts(session: Session) -> dict[str, int]:
    """The count on each tab, in two queries."""
    pending = (Comment.status == "pending") & ~Comment.flag_needs_care
    care = (Comment.status == "pending") & Comment.flag_needs_care
    row = session.execute(
        select(
            func.count(case((pending, 1))),
            func.count(case((care, 1))),
            func.count(case((Comment.status == "approved", 1))),
            func.count(case((Comment.status == "rejected", 1))),
            func.count(case((Comment.status == "spam", 1))),
        ).where(Comment.deleted_at.is_(None) | (Comment.status != "approved"))
    ).one()
    reported = session.scalar(
        select(func.count(func.distinct(CommentReport.comment_id))).where(
            CommentReport.resolved_at.is_(None)
        )
    )
    return {
        "pending": row[0],
        "needs_care": row[1],
        "reported": reported or 0,
        "approved": row[2],
        "rejected": row[3],
        "spam": row[4],
    }


def queue_statement(name: str):
    """Replies in a tab: the waiting ones oldest first (a queue), decided ones newest first."""
    query = select(Comment).where(queue_filter(name))
    if name in ("pending", "needs_care", "reported"):
        return query.order_by(Comment.created_at, Comment.id)
    return query.order_by(Comment.created_at.desc(), Comment.id.desc())
