"""The directory's rules: submitting, confirming, approving, rejecting and updating support groups
and events, and the public queries. Plain arguments in; functions flush, the caller commits.

Listings have two life lines:
- status `pending → approved | rejected`, decided by an editor. `approved_at` is set the first
  time a listing is approved (digests announce what was approved since a subscriber's last one)
  and cleared when it is unlisted, so a later re-approval announces it again.
- the organiser's address: `organiser_confirmed_at` is set when they press the button behind
  the link we emailed. Editors see unconfirmed submissions apart, without an approve button.

An organiser's edit of an approved listing is applied at once (the listing stays public, marked
"updated") and flagged `needs_check` for an editor, who marks it checked or unlists it. Keeping
the old version public until the edit is approved would need a second copy of every listing;
this is the honest simple choice, and the editor still sees every change.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from engage.accounts import notifications
from engage.community.models import GROUP_FORMATS, RUN_BY, Event, SupportGroup
from engage.community.purposes import SLUGS as PURPOSE_SLUGS
from engage.queue import enqueue
from engage.subscriptions.service import InvalidAddress, normalise_email
from engage.tokens import (
    TokenError,
    link_key_matches,
    make_link_token,
    read_token,
    rotate_link_key,
)
from engage.types import utcnow
from engage.urls import InvalidUrl, check_web_url, is_web_url

Listing = SupportGroup | Event

FORMAT_LABELS = {"in_person": "In person", "online": "Online", "hybrid": "Hybrid"}
RUN_BY_LABELS = {
    "peer": "Peer-led",
    "professional": "Run by a professional",
    "organisation": "Run by an organisation",
}
KIND_CODES = {"group": "g", "event": "e"}
MAX_PURPOSES = 8
MAX_EVENT_LENGTH = timedelta(days=14)
RESERVED_SLUGS = frozenset({"submit", "feed", "new", "edit", "confirm"})
LIST_LIMIT = 500  # the directory is hundreds of listings; a page beyond this is not needed yet

GROUP_FIELDS = (
    "name", "description", "purposes", "format", "region", "city", "schedule",
    "next_meeting_at", "timezone", "language", "run_by", "cost", "how_to_join", "contact",
    "how_to_join_private", "contact_private", "notify_requests",
)  # fmt: skip
EVENT_FIELDS = (
    "title", "description", "starts_at", "ends_at", "timezone", "location", "online_url",
    "group_id", "location_private", "online_url_private", "notify_requests",
)  # fmt: skip


class ListingInvalid(ValueError):
    """Submitted values the directory cannot take; `errors` maps each field to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class ListingRefused(ValueError):
    """An action the listing's state does not allow (the message is fit to show)."""


def kind_of(listing: Listing) -> str:
    return "group" if isinstance(listing, SupportGroup) else "event"


def title_of(listing: Listing) -> str:
    return listing.name if isinstance(listing, SupportGroup) else listing.title


# --- cleaning input -------------------------------------------------------------------------


def clean_text(value: object, limit: int, *, multiline: bool = False) -> str:
    """`value` as stripped text without control characters (newlines kept if `multiline`)."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    allowed = {"\n"} if multiline else set()
    text = "".join(ch for ch in text if ch.isprintable() or ch in allowed)
    if multiline:
        text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()[:limit]


def valid_timezone(name: str) -> bool:
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def web_url(value: str) -> bool:
    """Whether `value` is a web address we link to (never raises, whatever is stored)."""
    return is_web_url(value)


# A contact that sets out to be a link ("https://…", "www.…"): it must then be a sound one.
_LINK_LIKE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|https?:|www\.)", re.IGNORECASE)


def _contact(values, errors) -> str:
    contact = _text(
        values, errors, "contact", 300, required=True, label="a way to contact the group"
    )
    if "contact" not in errors and _LINK_LIKE.match(contact):
        try:
            check_web_url(contact if "://" in contact else f"https://{contact}", limit=300)
        except InvalidUrl as exc:
            errors["contact"] = str(exc)
    return contact


def _text(values, errors, name, limit, *, required=False, multiline=False, label=None):
    text = clean_text(values.get(name), 10 * limit, multiline=multiline)
    if len(text) > limit:
        errors[name] = f"Please keep this under {limit} characters."
    elif required and not text:
        errors[name] = f"Please give {label or 'this'}."
    return text


def clean_group(values: dict, *, partial: bool = False) -> dict:
    """Checked values for a SupportGroup. Raises ListingInvalid with every field's message.

    With `partial`, only the keys present in `values` are checked and returned (for updates).
    """
    errors: dict[str, str] = {}
    out: dict = {}

    def has(name: str) -> bool:
        return not partial or name in values

    if has("name"):
        out["name"] = _text(values, errors, "name", 200, required=True, label="the group's name")
    if has("description"):
        out["description"] = _text(values, errors, "description", 5000, multiline=True)
    if has("purposes"):
        raw = values.get("purposes") or []
        purposes = list(dict.fromkeys(str(p) for p in (raw if isinstance(raw, list) else [raw])))
        if not purposes:
            errors["purposes"] = "Please choose what the group is for."
        elif any(p not in PURPOSE_SLUGS for p in purposes):
            errors["purposes"] = "Please choose from the list."
        elif len(purposes) > MAX_PURPOSES:
            errors["purposes"] = f"Please choose at most {MAX_PURPOSES}."
        out["purposes"] = purposes
    if has("format"):
        out["format"] = values.get("format")
        if out["format"] not in GROUP_FORMATS:
            errors["format"] = "Please choose in person, online or hybrid."
    if has("region"):
        out["region"] = _text(values, errors, "region", 120)
    if has("city"):
        out["city"] = _text(values, errors, "city", 120)
    if not partial and not (out.get("region") or out.get("city")) and "region" not in errors:
        errors["region"] = "Please give a region or a city (for online groups, e.g. 'Online, UK')."
    if has("schedule"):
        out["schedule"] = _text(values, errors, "schedule", 300)
    if has("timezone"):
        out["timezone"] = clean_text(values.get("timezone") or "UTC", 64)
        if not valid_timezone(out["timezone"]):
            errors["timezone"] = "Please give a time zone such as Europe/London."
    if has("next_meeting_at"):
        out["next_meeting_at"] = values.get("next_meeting_at")
        if out["next_meeting_at"] is not None and not _aware(out["next_meeting_at"]):
            errors["next_meeting_at"] = "Please give the date and time of the next meeting."
    if has("language"):
        out["language"] = _text(values, errors, "language", 40, required=True, label="a language")
    if has("run_by"):
        out["run_by"] = values.get("run_by")
        if out["run_by"] not in RUN_BY:
            errors["run_by"] = "Please choose who runs the group."
    if has("cost"):
        out["cost"] = _text(values, errors, "cost", 120)
    if has("how_to_join"):
        out["how_to_join"] = _text(values, errors, "how_to_join", 3000, multiline=True)
    if has("contact"):
        out["contact"] = _contact(values, errors)
    _flags(values, out, partial, {
        "how_to_join_private": holds_link(out.get("how_to_join", "")),
        "contact_private": False,
        "notify_requests": False,
    })  # fmt: skip
    if errors:
        raise ListingInvalid(errors)
    return out


# A web address anywhere in a text ("join on https://…", "www.…"): the call link of a meeting.
_LINK_IN_TEXT = re.compile(r"[a-z][a-z0-9+.-]*://|\bwww\.", re.IGNORECASE)


def holds_link(text: str) -> bool:
    """Whether `text` holds a web address (such joining text is private unless said otherwise)."""
    return bool(_LINK_IN_TEXT.search(text or ""))


def _flags(values: dict, out: dict, partial: bool, defaults: dict[str, bool]) -> None:
    """The yes/no settings: what `values` says, else (for a new listing) the default."""
    for name, default in defaults.items():
        value = values.get(name)
        if value is not None:
            out[name] = bool(value)
        elif not partial:
            out[name] = default


def _aware(value: object) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def clean_event(session: Session, values: dict, *, partial=False, public=False, current=None):
    """Checked values for an Event. Raises ListingInvalid with every field's message.

    `public`: the group must be an approved one (a public form offers nothing else).
    `current`: the event being updated, whose values fill what `values` leaves out.
    """
    errors: dict[str, str] = {}
    out: dict = {}

    def has(name: str) -> bool:
        return not partial or name in values

    if has("title"):
        out["title"] = _text(values, errors, "title", 200, required=True, label="a title")
    if has("description"):
        out["description"] = _text(values, errors, "description", 5000, multiline=True)
    for name in ("starts_at", "ends_at"):
        if has(name):
            out[name] = values.get(name)
            if not _aware(out[name]):
                errors[name] = "Please give a date and a time."
    if has("timezone"):
        out["timezone"] = clean_text(values.get("timezone") or "UTC", 64)
        if not valid_timezone(out["timezone"]):
            errors["timezone"] = "Please give a time zone such as Europe/London."
    if has("location"):
        out["location"] = _text(values, errors, "location", 300)
    if has("online_url"):
        raw = values.get("online_url")
        out["online_url"] = "" if raw is None else str(raw).strip()
        if out["online_url"]:
            try:
                check_web_url(out["online_url"])
            except InvalidUrl as exc:
                errors["online_url"] = str(exc)
    if has("group_id"):
        group_id = values.get("group_id")
        out["group_id"] = group_id or None
        if group_id:
            group = session.get(SupportGroup, group_id) if isinstance(group_id, int) else None
            if group is None or (public and group.status != "approved"):
                errors["group_id"] = "Please choose a group from the list, or none."

    def final(name):
        return out[name] if name in out else getattr(current, name, None)

    starts, ends = final("starts_at"), final("ends_at")
    if _aware(starts) and _aware(ends) and "starts_at" not in errors and "ends_at" not in errors:
        if ends <= starts:
            errors["ends_at"] = "The end must be after the start."
        elif ends - starts > MAX_EVENT_LENGTH:
            errors["ends_at"] = "An event can last at most 14 days."
    _flags(values, out, partial, {
        "location_private": False,
        "online_url_private": True,
        "notify_requests": False,
    })  # fmt: skip
    if not (final("location") or final("online_url")) and not (
        "location" in errors or "online_url" in errors
    ):
        errors["location"] = "Please give a place, an online link, or both."
    if errors:
        raise ListingInvalid(errors)
    return out


def clean_organiser_email(raw: str) -> str:
    try:
        return normalise_email(raw)
    except InvalidAddress as exc:
        raise ListingInvalid({"organiser_email": str(exc)}) from None


# --- slugs ----------------------------------------------------------------------------------


def slugify(text: str, limit: int = 80) -> str:
    """A URL-safe slug of `text` ("Café Circle, Leeds!" -> "cafe-circle-leeds")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "listing"


def unique_slug(session: Session, model, text: str) -> str:
    base = slugify(text)
    taken = set(session.scalars(select(model.slug).where(model.slug.like(f"{base}%"))))
    taken |= RESERVED_SLUGS
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


# --- creating -------------------------------------------------------------------------------


def create_group(
    session: Session,
    values: dict,
    *,
    organiser_email: str | None = None,
    approved: bool = False,
    now: datetime | None = None,
) -> SupportGroup:
    """A new SupportGroup from unchecked `values` (pending unless `approved`). Flushes.

    Raises ListingInvalid. `organiser_email` is normalised; an editor-created listing may
    have none.
    """
    now = now or utcnow()
    clean = clean_group(values)
    email = clean_organiser_email(organiser_email) if organiser_email else None
    group = SupportGroup(
        slug=unique_slug(session, SupportGroup, clean["name"]),
        status="pending",
        organiser_email=email,
        created_at=now,
        **clean,
    )
    session.add(group)
    if approved:
        approve(session, group, now=now)
    session.flush()
    return group


def create_event(
    session: Session,
    values: dict,
    *,
    organiser_email: str | None = None,
    approved: bool = False,
    public: bool = False,
    now: datetime | None = None,
) -> Event:
    """A new Event from unchecked `values` (pending unless `approved`). Flushes.

    Raises ListingInvalid; with `public`, only approved groups may be linked.
    """
    now = now or utcnow()
    clean = clean_event(session, values, public=public)
    email = clean_organiser_email(organiser_email) if organiser_email else None
    event = Event(
        slug=unique_slug(session, Event, clean["title"]),
        status="pending",
        organiser_email=email,
        created_at=now,
        **clean,
    )
    session.add(event)
    if approved:
        approve(session, event, now=now)
    session.flush()
    return event


# --- the organiser's address and links ------------------------------------------------------


def _fingerprint(email: str | None) -> str:
    """A short keyed hash of the organiser's address: a changed address voids old links."""
    key = current_app.config["ENGAGE"].hash_key.encode()
    return hmac.new(key, b"organiser:" + (email or "").encode(), hashlib.sha256).hexdigest()[:16]


def listing_token(purpose: str, listing: Listing) -> str:
    """A signed token naming the listing (never the address) for "organiser-verify"/"-edit",
    bound to the listing's link key."""
    payload = {
        "k": KIND_CODES[kind_of(listing)],
        "id": listing.id,
        "f": _fingerprint(listing.organiser_email),
    }
    return make_link_token(purpose, payload, listing.link_key)


def listing_from_token(session: Session, purpose: str, token: str) -> Listing:
    """The listing a token names. Raises TokenError (expired, broken, or no such listing)."""
    payload = read_token(purpose, token)
    models = {"g": SupportGroup, "e": Event}
    if not (
        isinstance(payload, dict)
        and payload.get("k") in models
        and isinstance(payload.get("id"), int)
        and isinstance(payload.get("f"), str)
    ):
        raise TokenError("This link is not valid. It may have been copied incompletely.")
    listing = (
        session.get(models[payload["k"]], payload["id"]) if 0 < payload["id"] < 2**31 else None
    )
    # The key tells this listing from a deleted one whose id it got; the fingerprint voids
    # links when the organiser's address changes.
    if not link_key_matches(listing, payload) or not hmac.compare_digest(
        payload["f"], _fingerprint(listing.organiser_email)
    ):
        raise TokenError("This link is no longer valid: the listing has changed hands or gone.")
    return listing


def _listings_of(session: Session, address: str) -> list[Listing]:
    found: list[Listing] = []
    for model in (SupportGroup, Event):
        found.extend(
            session.scalars(
                select(model).where(model.organiser_email == address).order_by(model.id)
            )
        )
    return found


def forget_organiser(session: Session, address: str) -> int:
    """An organiser erased their data: submissions they never confirmed go; the others stay
    listed (or in the queue) without their address, and their organiser links stop working.
    `address` is normalised. Returns the listings changed; flushes."""
    listings = _listings_of(session, address)
    for listing in listings:
        if listing.status == "pending" and listing.organiser_confirmed_at is None:
            session.delete(listing)
            continue
        listing.organiser_email = None
        rotate_link_key(listing)
    session.flush()
    return len(listings)


def export_organiser(session: Session, address: str) -> list[dict]:
    """The listings submitted from a (normalised) address, for the reader's own export."""
    return [
        {
            "kind": kind_of(listing),
            "name": title_of(listing),
            "status": listing.status,
            "created_at": listing.created_at.isoformat(),
            "organiser_confirmed_at": listing.organiser_confirmed_at.isoformat()
            if listing.organiser_confirmed_at
            else None,
        }
        for listing in _listings_of(session, address)
    ]


def confirm_organiser(session: Session, listing: Listing, now: datetime | None = None) -> bool:
    """Record that the organiser confirmed their address; False if it already was. Flushes."""
    if listing.organiser_confirmed_at is not None:
        return False
    listing.organiser_confirmed_at = now or utcnow()
    session.flush()
    # Now it waits for an editor: staff who chose to hear at once are told after commit.
    if listing.status == "pending" and notifications.recipients(
        session, "submissions", {"immediate"}
    ):
        enqueue("engage.staff.notify_immediate", "submissions")
    return True


# --- editorial decisions ----------------------------------------------------------------------


def approve(session: Session, listing: Listing, now: datetime | None = None) -> bool:
    """List it publicly. Returns False if it already was (its `approved_at` is kept). Flushes."""
    listing.needs_check = False
    listing.rejection_reason = ""
    if listing.status == "approved":
        session.flush()
        return False
    listing.status = "approved"
    listing.approved_at = now or utcnow()
    session.flush()
    return True


def reject(session: Session, listing: Listing, reason: str) -> None:
    """Refuse (or unlist) it with a reason the organiser is told. Raises ListingInvalid."""
    reason = clean_text(reason, 1000, multiline=True)
    if not reason:
        raise ListingInvalid({"reason": "Please give a reason: the organiser reads it."})
    if len(reason) > 500:
        raise ListingInvalid({"reason": "Please keep the reason under 500 characters."})
    listing.status = "rejected"
    listing.rejection_reason = reason
    listing.approved_at = None
    listing.needs_check = False
    session.flush()


def mark_checked(session: Session, listing: Listing) -> None:
    """An editor has looked at an organiser's edit of an approved listing. Flushes."""
    listing.needs_check = False
    session.flush()


def update_listing(
    session: Session,
    listing: Listing,
    values: dict,
    *,
    by_organiser: bool,
    now: datetime | None = None,
) -> list[str]:
    """Apply the given (unchecked) values; returns the names of the fields that changed.

    Raises ListingInvalid. An organiser's change to an approved listing flags it for an
    editor; to a rejected one, puts it back in the queue. Flushes.
    """
    if isinstance(listing, SupportGroup):
        clean = clean_group(values, partial=True)
    else:
        clean = clean_event(session, values, partial=True, public=by_organiser, current=listing)
    changed = [name for name, value in clean.items() if getattr(listing, name) != value]
    for name in changed:
        setattr(listing, name, clean[name])
    if changed:
        # The slug stays when the name changes: links to the page keep working.
        listing.updated_at = now or utcnow()
        if by_organiser and listing.status == "approved":
            listing.needs_check = True
        elif by_organiser and listing.status == "rejected":
            listing.status = "pending"
            listing.rejection_reason = ""
    session.flush()
    return changed


# --- public queries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What a reader narrowed the directory to; empty strings mean "any"."""

    purpose: str = ""
    format: str = ""
    region: str = ""
    language: str = ""

    @classmethod
    def from_args(cls, args) -> Filters:
        """From a query string; values we do not know are dropped, never an error."""

        def arg(name: str, limit: int = 120) -> str:
            return clean_text(args.get(name, ""), limit)

        purpose = arg("purpose", 40)
        fmt = arg("format", 16)
        return cls(
            purpose=purpose if purpose in PURPOSE_SLUGS else "",
            format=fmt if fmt in GROUP_FORMATS else "",
            region=arg("region"),
            language=arg("language", 40),
        )

    @property
    def active(self) -> bool:
        return any((self.purpose, self.format, self.region, self.language))


def _has_purpose(column, purpose: str):
    # Purposes are a JSON list of slugs ([a-z-] only), so the quoted slug is an exact match
    # in the stored text on SQLite and PostgreSQL alike.
    return cast(column, String).like(f'%"{purpose}"%')


def _same_text(column, value: str):
    return func.lower(column) == value.lower()


def group_query(filters: Filters, status: str | None = "approved"):
    query = select(SupportGroup)
    if status:
        query = query.where(SupportGroup.status == status)
    if filters.purpose:
        query = query.where(_has_purpose(SupportGroup.purposes, filters.purpose))
    if filters.format:
        query = query.where(SupportGroup.format == filters.format)
    if filters.region:
        query = query.where(
            or_(
                _same_text(SupportGroup.region, filters.region),
                _same_text(SupportGroup.city, filters.region),
            )
        )
    if filters.language:
        query = query.where(_same_text(SupportGroup.language, filters.language))
    return query


def event_query(filters: Filters, status: str | None = "approved", upcoming_at=None):
    """Events, filtered through their own place/link (format) and their group (the rest)."""
    query = select(Event).outerjoin(SupportGroup, Event.group_id == SupportGroup.id)
    if status:
        query = query.where(Event.status == status)
    if upcoming_at is not None:
        query = query.where(Event.ends_at > upcoming_at)
    if filters.purpose:
        query = query.where(_has_purpose(SupportGroup.purposes, filters.purpose))
    if filters.format == "online":
        query = query.where(Event.online_url != "", Event.location == "")
    elif filters.format == "in_person":
        query = query.where(Event.location != "", Event.online_url == "")
    elif filters.format == "hybrid":
        query = query.where(Event.location != "", Event.online_url != "")
    if filters.region:
        like = f"%{filters.region.lower()}%"
        query = query.where(
            or_(
                _same_text(SupportGroup.region, filters.region),
                _same_text(SupportGroup.city, filters.region),
                # A private address must not be findable by guessing at it here.
                and_(Event.location_private.is_(False), func.lower(Event.location).like(like)),
            )
        )
    if filters.language:
        query = query.where(_same_text(SupportGroup.language, filters.language))
    return query


def public_groups(session: Session, filters: Filters) -> list[SupportGroup]:
    query = group_query(filters).order_by(func.lower(SupportGroup.name), SupportGroup.id)
    return list(session.scalars(query.limit(LIST_LIMIT)))


def upcoming_events(session: Session, filters: Filters, now: datetime | None = None) -> list:
    """Approved events that have not ended, soonest first."""
    query = event_query(filters, upcoming_at=now or utcnow())
    query = query.order_by(Event.starts_at, Event.id).limit(LIST_LIMIT)
    return list(session.scalars(query))


def group_events(session: Session, group: SupportGroup, now: datetime | None = None) -> list:
    query = (
        select(Event)
        .where(Event.group_id == group.id, Event.status == "approved")
        .where(Event.ends_at > (now or utcnow()))
        .order_by(Event.starts_at, Event.id)
        .limit(20)
    )
    return list(session.scalars(query))


def filter_choices(session: Session) -> dict[str, list[str]]:
    """Regions (and cities) and languages of approved groups, for the filter menus."""
    rows = session.execute(
        select(SupportGroup.region, SupportGroup.city, SupportGroup.language).where(
            SupportGroup.status == "approved"
        )
    ).all()
    places = {value for row in rows for value in (row.region, row.city) if value}
    languages = {row.language for row in rows if row.language}
    return {
        "regions": sorted(places, key=str.lower),
        "languages": sorted(languages, key=str.lower),
    }


def newly_listed(session: Session, limit: int = 30, now: datetime | None = None) -> list:
    """The most recently approved groups and (not yet ended) events, newest first."""
    now = now or utcnow()
    groups = session.scalars(
        select(SupportGroup)
        .where(SupportGroup.status == "approved", SupportGroup.approved_at.is_not(None))
        .order_by(SupportGroup.approved_at.desc(), SupportGroup.id.desc())
        .limit(limit)
    ).all()
    events = session.scalars(
        select(Event)
        .where(Event.status == "approved", Event.approved_at.is_not(None), Event.ends_at > now)
        .order_by(Event.approved_at.desc(), Event.id.desc())
        .limit(limit)
    ).all()
    listed = [*groups, *events]
    listed.sort(key=lambda item: item.approved_at, reverse=True)
    return listed[:limit]


def next_meeting(session: Session, group: SupportGroup, now: datetime | None = None):
    """When the group next meets, if known: its own date, or its next listed event's start."""
    now = now or utcnow()
    if group.next_meeting_at is not None and group.next_meeting_at > now:
        return group.next_meeting_at
    return session.scalar(
        select(func.min(Event.starts_at)).where(
            Event.group_id == group.id, Event.status == "approved", Event.starts_at > now
        )
    )


def review_queue(session: Session) -> dict[str, list]:
    """What the editor's screen shows: confirmed submissions, edits to check, unconfirmed."""

    def both(conditions):
        found = []
        for model in (SupportGroup, Event):
            found.extend(
                session.scalars(
                    select(model).where(*conditions(model)).order_by(model.created_at, model.id)
                )
            )
        return found

    return {
        "pending": both(
            lambda m: (
                m.status == "pending",
                or_(m.organiser_email.is_(None), m.organiser_confirmed_at.is_not(None)),
            )
        ),
        "to_check": both(lambda m: (m.status == "approved", m.needs_check.is_(True))),
        "unconfirmed": both(
            lambda m: (
                m.status == "pending",
                m.organiser_email.is_not(None),
                m.organiser_confirmed_at.is_(None),
            )
        ),
    }
