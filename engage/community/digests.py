"""Digests: who is due, what is new for each of them, one render per distinct content, and
the delivery rows the newsletter send pipeline then works through.

- Due: a confirmed, unsuppressed reader whose frequency is this run's and whose last digest
  (`last_digest_at`, the high-water mark) is older than their latest send moment: today at
  DIGEST_SEND_HOUR in their time zone (daily), Monday at that hour (weekly). Never had one:
  due. The moments are computed per distinct time zone, so the query stays one per batch.
- Content: groups and events approved since the mark (or since confirmation, at most
  MAX_LOOKBACK back), filtered by interests, plus approved events starting in the next 14
  days. Only newly approved listings make a digest worth sending: with none, no email, and the
  mark still moves.
- Editions are per frequency and UTC period (`2026-11-28`, `2026-W48`): the unique delivery row
  (edition, subscriber) means at most one digest per reader and period, whatever runs twice.
  Readers are taken in bounded batches (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's write
  lock serialises runs), inserts skip rows that exist, and each batch commits with its marks.
- Readers who would see the same listings share one DigestRender (rendered once, per-reader
  links as placeholders), referenced from their delivery rows.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from engage.addresses import without_encoded_words
from engage.community import purposes as purpose_list
from engage.community.joining import public_value
from engage.community.models import DigestEdition, DigestRender, Event, SupportGroup
from engage.core.database import is_postgres
from engage.mail.render import (
    PREFERENCES_URL,
    UNSUBSCRIBE_URL,
    format_date,
    placeholder,
    render_email,
)
from engage.queue import enqueue
from engage.sending.models import Delivery
from engage.sending.pipeline import delivery_counts, workers_for
from engage.subscriptions.models import Subscriber, Suppression
from engage.tokens import TokenError, make_token, read_token
from engage.types import utcnow
from engage.urls import external_url

log = logging.getLogger(__name__)

FREQUENCIES = ("weekly", "daily")
WEEKLY_ON = 0  # Monday
UPCOMING = timedelta(days=14)
MAX_LOOKBACK = timedelta(days=31)  # a reader who turns the digest on gets a month, not years
SEND_TASK = "engage.digests.send_batch"
FORMATS = {"in_person": "In person", "online": "Online", "hybrid": "In person and online"}
RUN_BY = {
    "peer": "Peer-led",
    "professional": "Run by professionals",
    "organisation": "Run by an organisation",
}
deliveries = Delivery.__table__


# --- due-ness ------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def slot_start(frequency: str, timezone: str, now: datetime, hour: int) -> datetime:
    """The latest send moment at or before `now` (UTC) for a reader in `timezone`."""
    local = now.astimezone(_zone(timezone))
    moment = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if moment > local:
        moment -= timedelta(days=1)
    if frequency == "weekly":
        moment -= timedelta(days=(moment.weekday() - WEEKLY_ON) % 7)
    # Rebuild from the wall-clock values so a DST change in between is applied correctly.
    naive = moment.replace(tzinfo=None)
    return naive.replace(tzinfo=_zone(timezone)).astimezone(UTC)


def period_for(frequency: str, now: datetime) -> str:
    """The edition's period in UTC: `2026-11-28` (daily) or `2026-W48` (weekly)."""
    now = now.astimezone(UTC)
    if frequency == "weekly":
        year, week, _ = now.isocalendar()
        return f"{year}-W{week:02d}"
    return now.date().isoformat()


def _audience(frequency: str):
    suppressed = exists().where(Suppression.email_hash == Subscriber.email_hash)
    return and_(
        Subscriber.status == "confirmed",
        Subscriber.email.is_not(None),
        without_encoded_words(Subscriber.email),
        Subscriber.digest == frequency,
        ~suppressed,
    )


def due_condition(session: Session, frequency: str, now: datetime, hour: int):
    """SQL condition for "due now": one branch per distinct send moment (time zones that
    share an offset share a branch)."""
    zones = session.scalars(
        select(Subscriber.timezone).where(_audience(frequency)).distinct()
    ).all()
    by_moment: dict[datetime, list[str]] = defaultdict(list)
    for name in zones:
        by_moment[slot_start(frequency, name, now, hour)].append(name)
    if not by_moment:
        return None
    return or_(
        *(
            and_(
                Subscriber.timezone.in_(sorted(names)),
                or_(Subscriber.last_digest_at.is_(None), Subscriber.last_digest_at < moment),
            )
            for moment, names in sorted(by_moment.items())
        )
    )


# --- content -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    kind: str  # "group" | "event"
    id: int
    approved_at: datetime
    purposes: frozenset[str]
    places: frozenset[str]  # lower-cased region and city; empty: not tied to a place
    context: dict
    starts_at: datetime | None = None


def _matches(item: Item, purposes: frozenset[str], regions: frozenset[str]) -> bool:
    """No interest in a dimension, or an item that does not say (no purposes; online, no
    place), matches."""
    if purposes and item.purposes and not item.purposes & purposes:
        return False
    return not (regions and item.places and not item.places & regions)


def listing_url(kind: str, slug: str) -> str:
    """The public page of a group or event, from BASE_URL (never the request's host)."""
    try:
        return external_url(f"community.{kind}", slug=slug)
    except BuildError:
        base = current_app.config["ENGAGE"].base_url
        return f"{base}/{kind}s/{slug}"


def _directory_url() -> str:
    try:
        return external_url("community.groups")
    except BuildError:
        return current_app.config["ENGAGE"].base_url + "/groups"


def _places(*values: str | None) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in values if v and v.strip())


def _when(starts_at: datetime, timezone: str) -> str:
    local = starts_at.astimezone(_zone(timezone))
    return f"{local:%a %-d %b %Y, %H:%M} ({timezone})"


class Listings:
    """Approved groups and events a run may show, loaded once per run (two queries)."""

    def __init__(self, session: Session, now: datetime):
        self.now = now
        floor = now - MAX_LOOKBACK
        groups = session.scalars(
            select(SupportGroup)
            .where(
                SupportGroup.status == "approved",
                SupportGroup.approved_at > floor,
                SupportGroup.approved_at <= now,
            )
            .order_by(SupportGroup.approved_at, SupportGroup.id)
        ).all()
        self.groups = [self._group(g) for g in groups]
        rows = session.execute(
            select(Event, SupportGroup.purposes, SupportGroup.region, SupportGroup.city)
            .outerjoin(SupportGroup, SupportGroup.id == Event.group_id)
            .where(
                Event.status == "approved",
                Event.approved_at <= now,
                or_(
                    Event.approved_at > floor,
                    and_(Event.starts_at >= now, Event.starts_at < now + UPCOMING),
                ),
            )
            .order_by(Event.approved_at, Event.id)
        ).all()
        events = [self._event(*row) for row in rows]
        self.events = [e for e in events if e.approved_at > floor]
        self.upcoming = sorted(
            (e for e in events if e.starts_at and now <= e.starts_at < now + UPCOMING),
            key=lambda e: (e.starts_at, e.id),
        )
        self._group_times = [g.approved_at for g in self.groups]
        self._event_times = [e.approved_at for e in self.events]

    @staticmethod
    def _group(group: SupportGroup) -> Item:
        where = ", ".join(p for p in (group.city, group.region) if p)
        summary = " · ".join(
            p
            for p in (
                FORMATS.get(group.format, group.format),
                where if group.format != "online" else "",
                RUN_BY.get(group.run_by, group.run_by),
                group.cost,
                "For: " + ", ".join(purpose_list.label(p) for p in group.purposes or [])
                if group.purposes
                else "",
            )
            if p
        )
        online = group.format == "online"
        return Item(
            kind="group",
            id=group.id,
            approved_at=group.approved_at,
            purposes=frozenset(group.purposes or []),
            places=frozenset() if online else _places(group.region, group.city),
            context={
                "name": group.name,
                "summary": summary,
                "schedule": group.schedule,
                "url": listing_url("group", group.slug),
            },
        )

    @staticmethod
    def _event(event: Event, purposes, region, city) -> Item:
        online = bool(event.online_url) and not event.location
        return Item(
            kind="event",
            id=event.id,
            approved_at=event.approved_at,
            purposes=frozenset(purposes or []),
            places=frozenset() if online else _places(region, city),
            starts_at=event.starts_at,
            context={
                "title": event.title,
                "when": _when(event.starts_at, event.timezone),
                # Digests go to many readers: a private address stays on request.
                "where": public_value(event, "location")
                or ("In person" if event.location else "Online" if event.online_url else ""),
                "url": listing_url("event", event.slug),
            },
        )

    def since(self, moment: datetime) -> tuple[int, int]:
        """Where the items approved after `moment` start, in the groups and events lists."""
        return (
            bisect.bisect_right(self._group_times, moment),
            bisect.bisect_right(self._event_times, moment),
        )


@dataclass
class Content:
    groups: list[Item]
    events: list[Item]
    upcoming: list[Item]

    @property
    def key(self) -> str:
        ids = [
            ",".join(str(i.id) for i in part) for part in (self.groups, self.events, self.upcoming)
        ]
        return hashlib.sha256("|".join(ids).encode()).hexdigest()


class ContentCache:
    """Content per (interests, start positions): readers with the same interests and the same
    new listings since their mark get the very same object, in O(log n) each."""

    def __init__(self, listings: Listings):
        self.listings = listings
        self._filtered: dict[tuple, tuple[list[Item], list[Item], list[Item]]] = {}
        self._content: dict[tuple, Content | None] = {}

    def _for_interests(self, interests: tuple):
        found = self._filtered.get(interests)
        if found is None:
            purposes, regions = frozenset(interests[0]), frozenset(interests[1])
            found = tuple(
                [i for i in items if _matches(i, purposes, regions)]
                for items in (self.listings.groups, self.listings.events, self.listings.upcoming)
            )
            self._filtered[interests] = found
        return found

    def content(self, interests: dict | None, since: datetime) -> Content | None:
        """What is new for this reader, or None: nothing newly listed."""
        interests = interests or {}
        key_interests = (
            tuple(sorted(interests.get("purposes") or [])),
            tuple(sorted(r.strip().lower() for r in interests.get("regions") or [])),
        )
        position = self.listings.since(since)
        key = (key_interests, position)
        if key not in self._content:
            groups, events, upcoming = self._for_interests(key_interests)
            new_groups = [g for g in groups if g.approved_at > since]
            new_events = [e for e in events if e.approved_at > since]
            if not new_groups and not new_events:
                self._content[key] = None
            else:
                shown = {e.id for e in new_events}
                self._content[key] = Content(
                    new_groups, new_events, [e for e in upcoming if e.id not in shown]
                )
        return self._content[key]


def web_copy_url(edition_id: int, content_key: str) -> str:
    """The "View in browser" address of one rendered content set of an edition: a signed
    token naming the edition and the content (public listings only, nothing about a reader)."""
    token = make_token("digest-view", {"e": edition_id, "k": content_key})
    return external_url("community.digest_web_copy", token=token)


def find_render(session: Session, token: str) -> DigestRender | None:
    """The DigestRender a web-copy token names, or None (bad, expired or unknown token)."""
    try:
        payload = read_token("digest-view", token)
    except TokenError:
        return None
    if not isinstance(payload, dict):
        return None
    edition_id, key = payload.get("e"), payload.get("k")
    if not isinstance(edition_id, int) or not isinstance(key, str):
        return None
    return session.scalars(
        select(DigestRender).where(
            DigestRender.edition_id == edition_id, DigestRender.content_key == key
        )
    ).first()


_LIST_LINKS = re.compile(r'<td[^>]*class="list-links"[^>]*>.*?</td>', re.DOTALL)


def web_copy_html(render: DigestRender) -> str:
    """A stored digest as a web page: the same for everyone, so without the footer's
    per-reader links (their placeholders) and without a link to itself."""
    page = _LIST_LINKS.sub("<td></td>", render.html)
    return re.sub(r'\s*·\s*<a href="[^"]*"[^>]*>View in browser</a>', "", page, count=1)


def render_digest(
    frequency: str, content: Content, dated: datetime | None = None, view_url: str = ""
) -> tuple[str, str, str]:
    """(subject, html, text) of one content set, with placeholders for the per-reader links;
    the masthead shows the date `dated` (default: now) and a "View in browser" link to
    `view_url` when given."""
    rendered = render_email(
        "digest",
        {
            "frequency": frequency,
            "dateline": format_date(dated or utcnow()),
            "view_url": view_url,
            "groups": [g.context for g in content.groups],
            "events": [e.context for e in content.events],
            "upcoming": [e.context for e in content.upcoming],
            "directory_url": _directory_url(),
            "unsubscribe_url": placeholder(UNSUBSCRIBE_URL),
            "preferences_url": placeholder(PREFERENCES_URL),
        },
    )
    return rendered.subject[:200], rendered.html, rendered.text


# --- the run -------------------------------------------------------------------------------


@dataclass
class RunResult:
    edition_id: int
    frequency: str
    period: str
    due: int = 0  # readers found due and processed in this run
    queued: int = 0  # delivery rows this run added
    empty: int = 0  # readers with nothing new: no email, mark moved
    renders: int = 0  # distinct renders this run used
    batches: int = 0
    more: bool = False  # stopped at max_batches with readers still due
    render_ids: set[int] = field(default_factory=set)


def _insert_ignoring_conflicts(session: Session, table, index: list[str]):
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing(index_elements=index)


def edition_for(session: Session, frequency: str, now: datetime) -> DigestEdition:
    """The edition of this frequency and period, created if needed (two runs: one edition)."""
    period = period_for(frequency, now)
    session.execute(
        _insert_ignoring_conflicts(
            session, DigestEdition.__table__, ["frequency", "period"]
        ).values(frequency=frequency, period=period, created_at=now)
    )
    return session.scalars(
        select(DigestEdition).where(
            DigestEdition.frequency == frequency, DigestEdition.period == period
        )
    ).one()


def _render_id(
    session: Session, edition_id: int, frequency: str, content: Content, now: datetime
) -> int:
    view_url = web_copy_url(edition_id, content.key)
    subject, html, text = render_digest(frequency, content, now, view_url)
    key = content.key
    session.execute(
        _insert_ignoring_conflicts(
            session, DigestRender.__table__, ["edition_id", "content_key"]
        ).values(
            edition_id=edition_id,
            content_key=key,
            subject=subject,
            html=html,
            text=text,
            created_at=utcnow(),
        )
    )
    return session.scalar(
        select(DigestRender.id).where(
            DigestRender.edition_id == edition_id, DigestRender.content_key == key
        )
    )


def run(
    session: Session,
    frequency: str,
    now: datetime | None = None,
    max_batches: int | None = 100,
    batch_size: int | None = None,
    dispatch: bool = True,
) -> RunResult:
    """Make the delivery rows of every reader due now, in batches of `batch_size`
    (DIGEST_BATCH_SIZE), at most `max_batches` (None: until nobody is due). Commits after each
    batch; with `dispatch`, batch send tasks go out after the last commit.
    Raises ValueError for an unknown frequency."""
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}")
    settings = current_app.config["ENGAGE"]
    now = now or utcnow()
    batch_size = batch_size or settings.digest_batch_size
    session.commit()  # a fresh transaction whose first statement writes (SQLite's lock)
    edition = edition_for(session, frequency, now)
    result = RunResult(edition.id, frequency, edition.period)
    due = due_condition(session, frequency, now, settings.digest_send_hour)
    if due is None:
        session.commit()
        return result
    listings = Listings(session, now)
    cache = ContentCache(listings)
    render_ids: dict[str, int] = {}
    postgres = is_postgres(session)
    floor = now - MAX_LOOKBACK
    while max_batches is None or result.batches < max_batches:
        pick = (
            select(
                Subscriber.id,
                Subscriber.interests,
                Subscriber.last_digest_at,
                Subscriber.confirmed_at,
                Subscriber.created_at,
            )
            .where(_audience(frequency), due)
            .order_by(Subscriber.id)
            .limit(batch_size)
        )
        if postgres:
            pick = pick.with_for_update(skip_locked=True, of=Subscriber.__table__)
        batch = session.execute(pick).all()
        if not batch:
            break
        result.batches += 1
        rows = []
        for reader in batch:
            since = max(reader.last_digest_at or reader.confirmed_at or reader.created_at, floor)
            content = cache.content(reader.interests, since)
            if content is None:
                result.empty += 1
                continue
            key = content.key
            if key not in render_ids:
                render_ids[key] = _render_id(session, edition.id, frequency, content, now)
            rows.append(
                {
                    "digest_edition_id": edition.id,
                    "digest_render_id": render_ids[key],
                    "subscriber_id": reader.id,
                    "status": "pending",
                    "attempts": 0,
                    "smtp_reply": "",
                    "created_at": now,
                }
            )
        if rows:
            # RETURNING names only the rows this statement added (not another run's).
            added = session.execute(
                _insert_ignoring_conflicts(
                    session, deliveries, ["digest_edition_id", "subscriber_id"]
                ).returning(deliveries.c.id),
                rows,
            )
            result.queued += len(added.all())
        session.execute(
            update(Subscriber)
            .where(Subscriber.id.in_([reader.id for reader in batch]))
            .values(last_digest_at=now)
            .execution_options(synchronize_session=False)
        )
        result.due += len(batch)
        if rows and edition.finished_at is not None:
            session.execute(
                update(DigestEdition)
                .where(DigestEdition.id == edition.id)
                .values(finished_at=None)
                .execution_options(synchronize_session=False)
            )
        session.commit()
    else:
        result.more = session.scalar(select(exists().where(_audience(frequency), due))) or False
    result.render_ids = set(render_ids.values())
    result.renders = len(render_ids)
    if dispatch and result.queued:
        for _ in range(workers_for(result.queued)):
            enqueue(SEND_TASK, edition.id)
    session.commit()
    log.info(
        "digest %s %s: %d due, %d queued, %d empty, %d renders",
        frequency,
        edition.period,
        result.due,
        result.queued,
        result.empty,
        result.renders,
    )
    return result


def counts(session: Session, edition_id: int) -> dict[str, int]:
    """An edition's delivery rows by status: total, sent, failed, pending, skipped."""
    return delivery_counts(session, Delivery.digest_edition_id == edition_id)


def interest_choices(session: Session, chosen: dict | None = None) -> dict:
    """Choices for the preference centre: the managed list of purposes, and the regions of
    approved groups (plus the ones the reader chose)."""
    regions = set(
        session.scalars(
            select(SupportGroup.region)
            .where(SupportGroup.status == "approved", SupportGroup.region != "")
            .distinct()
        ).all()
    )
    regions.update((chosen or {}).get("regions") or [])
    return {"purposes": list(purpose_list.PURPOSES), "regions": sorted(regions, key=str.lower)}
