"""The check pipeline a reply goes through when it is posted or edited.

The checks run in a fixed order and the first one that decides ends it:

 1. length and closed thread          -> refused (nothing stored; the reader fixes it)
 2. sanitise and count links          -> never decides; sets body_html, link_count, flag_links
 3. repeat post (same text, same person, within 10 minutes) -> the earlier reply stands
 4. staff auto-approve                -> approved
 5. banned words, banned address or domain -> rejected
 6. crisis language                   -> held, flag needs_care (never auto-published)
 7. suspect words                     -> held, flag suspect
 8. more than 2 links                 -> held
 9. recent history (30 % or more rejected in the last 7 days) -> held
10. new commenter (fewer than 2 approved replies), or an address or domain on
    pre-moderation                    -> held
11. site-wide pre-moderation (on by default) -> held; otherwise approved

`run` returns a Decision; the service stores it as the reply's status and as a ModerationAction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engage.articles.service import render_markdown
from engage.comments.models import Comment, DomainRule, Sanction
from engage.config import Settings

MAX_BODY = 5000
MAX_NAME = 80
MAX_LINKS = 2
REPEAT_WINDOW = timedelta(minutes=10)
HISTORY_WINDOW = timedelta(days=7)
HISTORY_REJECTED_SHARE = 0.30
APPROVED_TO_TRUST = 2
REPLY_LINK_REL = "nofollow ugc noopener"

_LINK = re.compile(r"<a\s", re.IGNORECASE)


class Refused(ValueError):
    """The reply cannot be taken as it is; the message is fit to show the reader."""

    def __init__(self, message: str, field: str = "body"):
        super().__init__(message)
        self.field = field


@dataclass
class Decision:
    """What the pipeline decided: a status, the check that decided, why, and any flags."""

    status: str  # "approved", "pending" or "rejected"; "duplicate" for a repeat post
    check: str
    reason: str
    needs_care: bool = False
    suspect: bool = False
    duplicate_of: Comment | None = None
    flags: list[str] = field(default_factory=list)


@dataclass
class Poster:
    """Who is posting, as the pipeline needs it: plain values."""

    email_hash: str
    domain: str
    staff: bool = False


def normalise_text(text: str) -> str:
    """Text compared by the repeat check: case and whitespace do not make a new reply."""
    return " ".join((text or "").split()).casefold()


@lru_cache(maxsize=32)
def _pattern(words: tuple[str, ...]) -> re.Pattern | None:
    if not words:
        return None
    # Whole words and phrases only ("cutting" must not match "cut myself" by accident), and
    # any run of spaces or hyphens between the words of a phrase.
    parts = [r"[\s\-]+".join(re.escape(w) for w in word.split()) for word in words if word]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def find_words(text: str, words: tuple[str, ...]) -> str | None:
    """The first listed word or phrase in `text`, or None."""
    pattern = _pattern(tuple(words))
    if pattern is None:
        return None
    match = pattern.search(text or "")
    return match.group(0).lower() if match else None


def length_and_thread_problems(name: str, body: str, comments_open: bool) -> dict[str, str]:
    """Check 1, every field at once: {field: message}, empty when the reply may go on."""
    if not comments_open:
        return {"body": "Replies to this article are closed."}
    problems = {}
    if not body.strip():
        problems["body"] = "Please write your reply."
    elif len(body) > MAX_BODY:
        problems["body"] = f"Please keep your reply under {MAX_BODY} characters."
    if not name.strip():
        problems["name"] = "Please enter a name to show with your reply."
    elif len(name) > MAX_NAME:
        problems["name"] = f"Please keep the name under {MAX_NAME} characters."
    return problems


def check_length_and_thread(name: str, body: str, comments_open: bool) -> None:
    """Check 1. Raises Refused with the first problem (`length_and_thread_problems`)."""
    for field_name, message in length_and_thread_problems(name, body, comments_open).items():
        raise Refused(message, field_name)


def sanitise(body: str) -> tuple[str, int]:
    """Check 2: Markdown (raw HTML off) cleaned by nh3, and how many links it holds."""
    html = render_markdown(body, link_rel=REPLY_LINK_REL)
    return html, len(_LINK.findall(html))


def _sanctions(session: Session, poster: Poster) -> set[str]:
    kinds = set(
        session.scalars(select(Sanction.kind).where(Sanction.email_hash == poster.email_hash))
    )
    if poster.domain:
        labels = poster.domain.split(".")
        domains = [".".join(labels[i:]) for i in range(len(labels))]
        kinds |= {
            f"domain-{kind}"
            for kind in session.scalars(
                select(DomainRule.kind).where(DomainRule.domain.in_(domains))
            )
        }
    return kinds


def _recent_share_rejected(session: Session, email_hash: str, now: datetime, exclude: int | None):
    since = now - HISTORY_WINDOW
    query = select(Comment.status, func.count()).where(
        Comment.author_email_hash == email_hash,
        Comment.created_at >= since,
        Comment.status.in_(("approved", "rejected", "spam")),
    )
    if exclude is not None:
        query = query.where(Comment.id != exclude)
    counts = dict(session.execute(query.group_by(Comment.status)).all())
    decided = sum(counts.values())
    if not decided:
        return 0.0
    return (counts.get("rejected", 0) + counts.get("spam", 0)) / decided


def _approved_count(session: Session, email_hash: str) -> int:
    return session.scalar(
        select(func.count()).where(
            Comment.author_email_hash == email_hash, Comment.status == "approved"
        )
    )


def run(
    session: Session,
    settings: Settings,
    *,
    poster: Poster,
    body: str,
    link_count: int,
    now: datetime,
    comment_id: int | None = None,
) -> Decision:
    """Checks 3 to 11 for a reply whose text passed checks 1 and 2.

    `comment_id` is the reply being edited (it is left out of its own repeat and history
    checks). Reads the database; writes nothing.
    """
    # 3. Repeat post: the same text by the same person within 10 minutes.
    if comment_id is None:
        recent = session.scalars(
            select(Comment).where(
                Comment.author_email_hash == poster.email_hash,
                Comment.created_at >= now - REPEAT_WINDOW,
                Comment.deleted_at.is_(None),
            )
        ).all()
        wanted = normalise_text(body)
        for earlier in recent:
            if normalise_text(earlier.body_markdown) == wanted:
                return Decision(
                    "duplicate", "repeat", "same text posted again", duplicate_of=earlier
                )

    # 4. Staff auto-approve.
    if poster.staff:
        return Decision("approved", "staff", "posted by a member of staff")

    # 5. Banned words, and banned addresses or domains.
    word = find_words(body, settings.comment_banned_words)
    if word:
        return Decision("rejected", "banned-words", f"banned word: {word}")
    sanctions = _sanctions(session, poster)
    if "ban" in sanctions:
        return Decision("rejected", "banned-address", "the address is banned")
    if "domain-ban" in sanctions:
        return Decision("rejected", "banned-domain", f"the domain {poster.domain} is banned")

    # 6. Crisis language: a person reads it first, and the author sees the crisis resources.
    word = find_words(body, settings.comment_crisis_words)
    if word:
        return Decision(
            "pending", "crisis", f"crisis language: {word}", needs_care=True, flags=["needs_care"]
        )

    # 7. Suspect words.
    word = find_words(body, settings.comment_suspect_words)
    if word:
        return Decision(
            "pending", "suspect-words", f"suspect word: {word}", suspect=True, flags=["suspect"]
        )

    # 8. More than 2 links.
    if link_count > MAX_LINKS:
        return Decision("pending", "links", f"{link_count} links", flags=["links"])

    # 9. Recent history.
    share = _recent_share_rejected(session, poster.email_hash, now, comment_id)
    if share >= HISTORY_REJECTED_SHARE:
        return Decision("pending", "history", f"{share:.0%} of replies rejected in the last 7 days")

    # 10. New commenter, or an address or domain on pre-moderation.
    if "premoderate" in sanctions:
        return Decision("pending", "premod-address", "the address is on pre-moderation")
    if "domain-premoderate" in sanctions:
        return Decision(
            "pending", "premod-domain", f"the domain {poster.domain} is on pre-moderation"
        )
    if _approved_count(session, poster.email_hash) < APPROVED_TO_TRUST:
        return Decision("pending", "new-commenter", "fewer than 2 approved replies")

    # 11. Site-wide pre-moderation.
    if settings.comment_premoderation:
        return Decision("pending", "premoderation", "site-wide pre-moderation")
    return Decision("approved", "passed", "passed every check")
