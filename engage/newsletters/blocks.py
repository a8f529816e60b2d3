"""Ready-made pieces of a newsletter body: the latest articles, support groups and events.

Each block is generated as Markdown or as MJML column content, from what readers may already
see on the site (published articles, approved groups and events), with absolute links built
from BASE_URL. The editor inserts it into the body and edits it like any other text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from engage.articles import service as articles
from engage.community.joining import private_details, public_value
from engage.urls import external_url, is_web_url

FORMAT_LABELS = {"in_person": "In person", "online": "Online", "hybrid": "In person and online"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


@dataclass(frozen=True)
class Item:
    title: str
    url: str = ""
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Block:
    key: str
    label: str
    heading: str
    load: Callable[[Session], list[Item]]


def _articles(session: Session) -> list[Item]:
    return [
        Item(
            title=article.title,
            url=external_url("articles.show", slug=article.slug),
            details=(article.summary,) if article.summary else (),
        )
        for article in articles.published_articles(session, limit=3)
    ]


def _groups(session: Session) -> list[Item]:
    items = []
    for group in articles.listed_groups(session, limit=4):
        place = ", ".join(part for part in (group.city, group.region) if part)
        where = FORMAT_LABELS.get(group.format, group.format)
        details = [f"{where}{f' · {place}' if place else ''}"]
        if group.schedule:
            details.append(group.schedule)
        # Newsletters are archived publicly: private joining details stay on request.
        how_to_join = public_value(group, "how_to_join")
        if how_to_join:
            details.append(how_to_join)
        items.append(Item(title=group.name, details=tuple(details)))
    return items


def _events(session: Session) -> list[Item]:
    items = []
    for event in articles.upcoming_events(session, limit=3):
        start = articles.local_start(event)
        when = f"{start:%A %-d %B %Y, %H:%M} ({start.tzname() or event.timezone})"
        location, online_url = public_value(event, "location"), public_value(event, "online_url")
        where = location or ("In person" if event.location else "")
        if event.online_url:
            where = f"{where} and online" if where else "Online"
        details = tuple(part for part in (when, where) if part)
        # A private link is never mailed: the event's page offers it on request. A link
        # stored before links were checked is left out rather than mailed broken.
        url = (
            online_url
            if is_web_url(online_url)
            else external_url("community.event", slug=event.slug)
            if private_details(event)
            else ""
        )
        items.append(Item(title=event.title, url=url, details=details))
    return items


BLOCKS = {
    block.key: block
    for block in (
        Block("articles", "Latest articles", "Latest articles", _articles),
        Block("groups", "Support groups", "Support groups near you", _groups),
        Block("events", "Upcoming events", "Coming up", _events),
    )
}
BLOCK_CHOICES = [(key, block.label) for key, block in BLOCKS.items()]


def _md(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _md_url(url: str) -> str:
    # A parenthesis would end the link early: <…> holds it (checked URLs have no < > or spaces).
    return f"<{url}>" if "(" in url or ")" in url else url


def as_markdown(heading: str, items: list[Item]) -> str:
    lines = [f"## {_md(heading)}", ""]
    for item in items:
        title = (
            f"[{_md(item.title)}]({_md_url(item.url)})" if item.url else f"**{_md(item.title)}**"
        )
        parts = [f"- {title}", *(f"  {_md(detail)}" for detail in item.details)]
        # A backslash at the end of a line is Markdown's hard line break: the title, the date
        # and the place each keep a line of their own instead of running together.
        lines.extend(f"{part} \\" for part in parts[:-1])
        lines.append(parts[-1])
    return "\n".join(lines) + "\n"


def as_mjml(heading: str, items: list[Item]) -> str:
    esc = html.escape
    lines = ["<mj-text>", f"  <h2>{esc(heading)}</h2>", "  <ul>"]
    for item in items:
        title = (
            f'<a href="{esc(item.url)}">{esc(item.title)}</a>'
            if item.url
            else f"<strong>{esc(item.title)}</strong>"
        )
        details = "".join(f"<br />{esc(detail)}" for detail in item.details)
        lines.append(f"    <li>{title}{details}</li>")
    lines += ["  </ul>", "</mj-text>"]
    return "\n".join(lines) + "\n"


class EmptyBlock(LookupError):
    """There is nothing to put in this block yet; the message says what is missing."""


def snippet(session: Session, key: str, body_format: str) -> str:
    """The block `key` as Markdown or MJML. Raises KeyError for an unknown block and
    EmptyBlock when there is nothing to list."""
    block = BLOCKS[key]
    items = block.load(session)
    if not items:
        raise EmptyBlock(f"There is nothing to list under “{block.label}” yet.")
    render = as_mjml if body_format == "mjml" else as_markdown
    return render(block.heading, items)


def append(body: str, addition: str) -> str:
    """`addition` after `body`, separated by one blank line."""
    body = (body or "").rstrip()
    return f"{body}\n\n{addition}" if body else addition
