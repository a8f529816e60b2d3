"""Articles: Markdown rendering and the queries that decide what readers may see."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from sqlalchemy import select
from sqlalchemy.orm import Session

from engage.articles.models import Article
from engage.community.models import Event, SupportGroup
from engage.types import utcnow

# Prose only: no images (a remote image would tell its host who reads what), no forms, no frames.
PROSE_TAGS = frozenset(
    {
        "a", "abbr", "blockquote", "br", "code", "del", "em", "h2", "h3", "h4", "h5", "h6",
        "hr", "li", "ol", "p", "pre", "strong", "sub", "sup", "ul",
    }
)  # fmt: skip
PROSE_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
ARTICLE_LINK_REL = "nofollow noopener"


@cache
def _parser() -> MarkdownIt:
    # CommonMark with raw HTML off: "<script>" in the source is shown as text, never as markup.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def _adjust(tokens) -> None:
    """Fit the token stream to a page: headings start at h2, images become their alt text."""
    levels = [int(t.tag[1]) for t in tokens if t.type == "heading_open"]
    # The page title is the one h1: a body that uses "#" is shifted down a level as a whole.
    shift = max(0, 2 - min(levels)) if levels else 0
    for token in tokens:
        if shift and token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + shift, 6)}"
        if token.children:
            for index, child in enumerate(token.children):
                if child.type == "image":
                    alt = "".join(c.content for c in child.children or [] if c.type == "text")
                    token.children[index] = Token("text", "", 0, content=alt or child.content)


def render_markdown(text: str, *, link_rel: str = ARTICLE_LINK_REL) -> str:
    """Markdown to safe HTML for prose.

    Raw HTML in the source is escaped by the parser, and the result is cleaned again by nh3
    so that only prose tags, http(s)/mailto links and a few harmless attributes survive.
    Every link gets `rel=link_rel`.
    """
    parser = _parser()
    env: dict = {}
    tokens = parser.parse(text or "", env)
    _adjust(tokens)
    html = parser.renderer.render(tokens, parser.options, env)
    return nh3.clean(
        html,
        tags=set(PROSE_TAGS),
        attributes={tag: set(attrs) for tag, attrs in PROSE_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=link_rel,
        strip_comments=True,
    )


def _public(now: datetime):
    return (Article.published_at.is_not(None)) & (Article.published_at <= now)


def published_articles(
    session: Session, *, now: datetime | None = None, limit: int | None = None
) -> list[Article]:
    """Articles readers may see (published, not scheduled for later), newest first."""
    query = (
        select(Article)
        .where(_public(now or utcnow()))
        .order_by(Article.published_at.desc(), Article.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def published_article(
    session: Session, slug: str, *, now: datetime | None = None
) -> Article | None:
    """The public article with this slug, or None if there is none or it is not out yet."""
    return session.scalar(select(Article).where(Article.slug == slug, _public(now or utcnow())))


def upcoming_events(
    session: Session, *, now: datetime | None = None, limit: int = 3
) -> list[Event]:
    """The next few approved events that have not started yet, soonest first."""
    query = (
        select(Event)
        .where(Event.status == "approved", Event.starts_at > (now or utcnow()))
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def local_start(event: Event) -> datetime:
    """When the event starts in its own time zone (UTC if the zone is unknown here)."""
    try:
        return event.starts_at.astimezone(ZoneInfo(event.timezone or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return event.starts_at


def listed_groups(session: Session, *, limit: int = 4) -> list[SupportGroup]:
    """A few approved support groups, most recently listed first."""
    query = (
        select(SupportGroup)
        .where(SupportGroup.status == "approved")
        .order_by(SupportGroup.approved_at.desc(), SupportGroup.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
