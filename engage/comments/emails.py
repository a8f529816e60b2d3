"""Emails about replies: one function per email returning its context, the `queue_*` helpers,
and the domain side of the moderator and reply-notification tasks.

Replies travel in emails as plain text with their links defanged ("example[.]org/page"), so
nothing a reader wrote becomes a clickable link or markup in anyone's mailbox.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import nh3
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.accounts import notifications
from engage.accounts.models import User
from engage.articles.models import Article
from engage.comments import service
from engage.comments.models import Comment, Commenter, ModerationAction, ModerationLink
from engage.mail.message import bulk_headers
from engage.mail.service import queue_email
from engage.tokens import make_link_token
from engage.types import utcnow
from engage.urls import external_url

LINK_LIFETIME = timedelta(days=7)
EXCERPT = 1200
_URL = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.\-]*:/*|www\.)[^\s<>\"']+")


def _defang(match: re.Match) -> str:
    url = re.sub(r"(?i)^[a-z][a-z0-9+.\-]*:/*", "", match.group(0))
    host, slash, rest = url.partition("/")
    return host.replace(".", "[.]") + slash + rest


def reply_as_text(comment: Comment, limit: int = EXCERPT) -> str:
    """The reply as plain text: no markup, links shown but not clickable."""
    text = html.unescape(nh3.clean(comment.body_html or "", tags=set()))
    text = _URL.sub(_defang, text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _flags(comment: Comment) -> list[str]:
    flags = []
    if comment.flag_needs_care:
        flags.append("needs care: crisis language")
    if comment.flag_suspect:
        flags.append("suspect words")
    if comment.flag_links:
        flags.append(f"{comment.link_count} links")
    return flags


def make_links(session: Session, comment: Comment, user: User, now: datetime) -> dict[str, str]:
    """A fresh approve and reject link for one moderator: one action each, once, for 7 days."""
    urls = {}
    for action in ("approve", "reject"):
        link = ModerationLink(
            comment_id=comment.id,
            user_id=user.id,
            action=action,
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
        session.add(link)
        session.flush()
        # "h": the text this email shows; an approve link refuses a reply edited since.
        token = make_link_token(
            "moderation-action",
            {"l": link.id, "c": comment.id, "a": action, "h": service.seen_hash(comment)},
            link.link_key,
        )
        urls[action] = external_url("comments.moderation_link", action=action, token=token)
    return urls


def _reply_context(comment: Comment, article: Article, urls: dict[str, str]) -> dict:
    return {
        "comment_id": comment.id,
        "article_title": article.title,
        "author_name": comment.author_name,
        "text": reply_as_text(comment),
        "needs_care": comment.flag_needs_care,
        "flags": _flags(comment),
        "approve_url": urls["approve"],
        "reject_url": urls["reject"],
        "queue_url": external_url("comments_admin.queue", tab=_tab(comment)),
    }


def _tab(comment: Comment) -> str:
    return "needs_care" if comment.flag_needs_care else "pending"


def _already_sent(session: Session, comment_ids: list[int], user: User) -> set[int]:
    # A moderation link is made per reply and user whenever an email shows that reply, so it
    # is also the record of who was told about which reply.
    return set(
        session.scalars(
            select(ModerationLink.comment_id).where(
                ModerationLink.user_id == user.id, ModerationLink.comment_id.in_(comment_ids)
            )
        )
    )


def notify_moderators(session: Session, comment_id: int, now: datetime | None = None) -> int:
    """Email, at once, the staff whose held-reply setting says so about one reply waiting in
    the queue (`immediate_choices`). Idempotent: a reply already notified, or no longer
    pending, sends nothing. Returns emails queued; caller commits."""
    now = now or utcnow()
    comment = session.get(Comment, comment_id, with_for_update=True)
    if comment is None or comment.status != "pending" or comment.moderators_notified_at:
        return 0
    comment.moderators_notified_at = now
    article = session.get(Article, comment.article_id)
    sent = 0
    for user, _row in notifications.recipients(
        session, "held_replies", service.immediate_choices(comment)
    ):
        urls = make_links(session, comment, user, now)
        queue_email("comment_moderation", user.email, _reply_context(comment, article, urls))
        notifications.mark_sent(session, user, "held_replies", now)
        sent += 1
    session.flush()
    return sent


def moderation_digest(session: Session, now: datetime | None = None, batch: int = 50) -> int:
    """The batched and daily email: per member of staff on `batched` (every run) or `daily`
    (a day after their last), the replies waiting that no email has shown them yet.
    Returns how many replies were included, counted once; caller commits."""
    now = now or utcnow()
    waiting = session.scalars(
        select(Comment)
        .where(Comment.status == "pending")
        .order_by(Comment.created_at, Comment.id)
        .limit(batch)
    ).all()
    if not waiting:
        return 0
    articles = {
        a.id: a
        for a in session.scalars(
            select(Article).where(Article.id.in_({c.article_id for c in waiting}))
        )
    }
    included: set[int] = set()
    for user, _row in notifications.recipients(
        session, "held_replies", {"batched", "daily"}, now=now
    ):
        told = _already_sent(session, [c.id for c in waiting], user)
        # New to this user, or back in the queue since (an edit clears moderators_notified_at).
        comments = [c for c in waiting if c.moderators_notified_at is None or c.id not in told]
        if not comments:
            continue
        items = [
            _reply_context(c, articles[c.article_id], make_links(session, c, user, now))
            for c in comments
        ]
        tab = "needs_care" if any(c.flag_needs_care for c in comments) else "pending"
        queue_email(
            "comment_moderation_digest",
            user.email,
            {"items": items, "queue_url": external_url("comments_admin.queue", tab=tab)},
        )
        notifications.mark_sent(session, user, "held_replies", now)
        included.update(c.id for c in comments)
    for comment in waiting:
        if comment.id in included:
            comment.moderators_notified_at = now
    session.flush()
    return len(included)


# --- Reply notifications ----------------------------------------------------------------


def unsubscribe_url(commenter: Commenter) -> str:
    return external_url("comments.unsubscribe", unsubscribe_id=commenter.unsubscribe_id)


def comment_notify_confirm(commenter: Commenter) -> dict:
    """Double opt-in for reply notifications: the link opens a page whose button confirms."""
    token = make_link_token("confirm", {"cm": commenter.id}, commenter.link_key)
    return {"confirm_url": external_url("comments.confirm_notifications", token=token)}


def queue_notify_confirmation(commenter: Commenter) -> None:
    queue_email("comment_notify_confirm", commenter.email, comment_notify_confirm(commenter))


def comment_reply(reply: Comment, parent: Comment, article: Article, commenter: Commenter):
    return {
        "article_title": article.title,
        "reply_author": reply.author_name,
        "text": reply_as_text(reply),
        "parent_excerpt": reply_as_text(parent, 300),
        "permalink": external_url("articles.show", slug=article.slug) + f"#c-{reply.id}",
        "unsubscribe_url": unsubscribe_url(commenter),
    }


def reply_notification(session: Session, reply_id: int):
    """The notification for the author of the reply `reply_id` answers, as
    `(to, context, headers)`, or None: only for an approved reply, and only if that author
    ticked the box and confirmed their address. The caller sends it (a worker, at once)."""
    reply = session.get(Comment, reply_id)
    if reply is None or reply.status != "approved" or reply.deleted_at or not reply.parent_id:
        return None
    parent = session.get(Comment, reply.parent_id)
    if parent is None or not parent.notify_replies or parent.author_email is None:
        return None
    if parent.author_email_hash == reply.author_email_hash:
        return None
    commenter = service.get_commenter(session, parent.author_email_hash)
    if commenter is None or not commenter.wants_notifications:
        return None
    article = session.get(Article, reply.article_id)
    settings = current_app.config["ENGAGE"]
    headers = bulk_headers(
        f"{settings.site_name} replies <replies.{settings.list_id_domain}>",
        unsubscribe_url(commenter),
    )
    return commenter.email, comment_reply(reply, parent, article, commenter), headers


# --- The author hears back about their own reply -------------------------------------------

# What each note to an author is called in the reply's history: the mark that it went, so
# approving (or rejecting) the same reply again sends nothing more.
AUTHOR_NOTES = {"live": "author-told:live", "not_published": "author-told:not-published"}


def comment_live(comment: Comment, article: Article, commenter: Commenter) -> dict:
    """Your reply is live: a moderator approved it. Links to the reply itself."""
    return {
        "article_title": article.title,
        "excerpt": reply_as_text(comment, 300),
        "permalink": external_url("articles.show", slug=article.slug) + f"#c-{comment.id}",
        "unsubscribe_url": unsubscribe_url(commenter),
    }


def comment_not_published(comment: Comment, article: Article, commenter: Commenter) -> dict:
    """A moderator's kind note on a rejected reply. Never carries the reply's words or the
    reason given: a reader in a hard time gets no verdict quoted back at them."""
    return {
        "article_title": article.title,
        "article_url": external_url("articles.show", slug=article.slug),
        "unsubscribe_url": unsubscribe_url(commenter),
    }


def _asked(comment: Comment) -> bool:
    return bool(comment.notify_replies and comment.author_email and not comment.deleted_at)


def author_reachable(session: Session, comment: Comment) -> Commenter | None:
    """The reply's author, if they ticked "email me" on it and confirmed that address (and
    have not stopped reply emails since); otherwise None."""
    if not _asked(comment):
        return None
    commenter = service.get_commenter(session, comment.author_email_hash)
    return commenter if commenter is not None and commenter.wants_notifications else None


def reachable_replies(session: Session, comments: list[Comment]) -> set[int]:
    """Ids of the replies among `comments` whose author `author_reachable` finds, in one
    query: the queue offers the kind-note checkbox for those only."""
    hashes = {c.author_email_hash for c in comments if _asked(c)}
    if not hashes:
        return set()
    confirmed = {
        commenter.email_hash
        for commenter in session.scalars(select(Commenter).where(Commenter.email_hash.in_(hashes)))
        if commenter.wants_notifications
    }
    return {c.id for c in comments if _asked(c) and c.author_email_hash in confirmed}


def tell_author(session: Session, comment: Comment, kind: str, now: datetime | None = None):
    """Queue the note `kind` ("live" or "not_published") to the reply's own author, through
    the outbox in the caller's transaction. At most once per reply and kind, and only to an
    author `author_reachable` finds. Returns whether it was queued; flushes, caller commits."""
    marker = AUTHOR_NOTES[kind]
    commenter = author_reachable(session, comment)
    if commenter is None:
        return False
    told = session.scalar(
        select(ModerationAction.id).where(
            ModerationAction.comment_id == comment.id, ModerationAction.action == marker
        )
    )
    if told is not None:
        return False
    article = session.get(Article, comment.article_id)
    build = comment_live if kind == "live" else comment_not_published
    settings = current_app.config["ENGAGE"]
    headers = bulk_headers(
        f"{settings.site_name} replies <replies.{settings.list_id_domain}>",
        unsubscribe_url(commenter),
    )
    queue_email(f"comment_{kind}", commenter.email, build(comment, article, commenter), headers)
    service.record(session, comment, marker, "emailed to the author", now=now)
    session.flush()
    return True
