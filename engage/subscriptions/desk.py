"""The editor's subscriber desk: finding subscribers, one reader's record, the suppression list.

Plain values in; functions flush, never commit. Nothing here logs an address: editors see
addresses on their pages (they run the list), logs never do.

Search (`SubscriberFilter.q`):
- text with `@` and no trailing `*` is an exact address, compared after normalising;
- text ending in `*`, or without `@`, is the start of an address ("anna", "anna@exa*").
A prefix runs as `email LIKE 'prefix%'` on PostgreSQL, served by the `varchar_pattern_ops`
index `ix_subscribers_email_pattern` (the unique index cannot serve LIKE under a non-C
collation), and as the range `prefix <= email < prefix || U+10FFFF` on SQLite, served by an
index on `email` (BINARY collation: the range holds exactly the addresses that start with the
prefix; SQLite's LIKE is case-insensitive and would need a NOCASE index). Addresses are
stored lower case, so the text is lowered first.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from engage.addresses import InvalidAddress, normalise_email
from engage.core.spreadsheet import safe_cell
from engage.subscriptions import importing, service
from engage.subscriptions.models import (
    DIGEST_FREQUENCIES,
    SUBSCRIBER_STATUSES,
    Consent,
    Subscriber,
    Suppression,
    SuppressionLift,
    Topic,
    subscriber_topics,
)
from engage.types import utcnow

#: Where a sign-up came from, as the filter offers it: label, and how its consent is told.
SOURCES = {
    "form": "Sign-up form on this site",
    "embed": "Embedded form on another site",
    "import": "Import",
}
SUPPRESSION_REASONS = {
    "bounced": "Hard bounce",
    "complaint": "Complaint",
    "erased": "Erased",
}
PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_QUERY = 320
NOTE_LIMIT = 500
CSV_BATCH = 1000
HASH_SHOWN = 12  # characters of a keyed hash shown to staff: enough to tell rows apart
# Characters a spreadsheet reads as the start of a formula (OWASP "CSV injection"); a cell
# beginning with one is prefixed with an apostrophe, which makes it plain text.
SQLITE_TOP = "\U0010ffff"  # above every character an address holds


class DeskError(ValueError):
    """An action the desk cannot take; the message is fit to show the editor."""


@dataclass(frozen=True)
class SubscriberFilter:
    """What an editor asked for. Build with `parse_filter`, which checks every value."""

    q: str = ""
    status: str = ""
    topic: str = ""
    digest: str = ""
    source: str = ""
    created_from: date | None = None
    created_to: date | None = None
    confirmed_from: date | None = None
    confirmed_to: date | None = None

    @property
    def exact(self) -> bool:
        return bool(self.q) and "@" in self.q and not self.q.endswith("*")

    @property
    def prefix(self) -> str:
        """The start of an address searched for, lower case ("" for an exact search)."""
        if not self.q or self.exact:
            return ""
        return self.q.removesuffix("*").strip().lower()

    def as_params(self) -> dict[str, str]:
        """The filter as form fields, empty ones left out (links, hidden inputs)."""
        values = {
            "q": self.q,
            "status": self.status,
            "topic": self.topic,
            "digest": self.digest,
            "source": self.source,
            "created_from": self.created_from.isoformat() if self.created_from else "",
            "created_to": self.created_to.isoformat() if self.created_to else "",
            "confirmed_from": self.confirmed_from.isoformat() if self.confirmed_from else "",
            "confirmed_to": self.confirmed_to.isoformat() if self.confirmed_to else "",
        }
        return {key: value for key, value in values.items() if value}


def _date(values: Mapping[str, str], name: str, errors: dict[str, str]) -> date | None:
    raw = (values.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = "Enter a date as YYYY-MM-DD, or leave it empty."
        return None


def parse_filter(
    values: Mapping[str, str], topics: list[str]
) -> tuple[SubscriberFilter, dict[str, str]]:
    """The filter in `values` (a request's form or query), and a message per field that was
    not valid (that field is then left out of the filter). `topics`: the known slugs."""
    errors: dict[str, str] = {}
    q = (values.get("q") or "").strip()
    if not q.isprintable() or len(q) > MAX_QUERY:
        errors["q"] = f"Type an address or its start, on one line, at most {MAX_QUERY} characters."
        q = ""
    elif q.endswith("*") and not q.removesuffix("*").strip():
        errors["q"] = "Type at least the first letter of the address before the *."
        q = ""

    def choice(name: str, allowed, message: str) -> str:
        value = (values.get(name) or "").strip()
        if value and value not in allowed:
            errors[name] = message
            return ""
        return value

    status = choice("status", SUBSCRIBER_STATUSES, "Choose a status from the list.")
    topic = choice("topic", topics, "Choose a topic from the list.")
    digest = choice("digest", DIGEST_FREQUENCIES, "Choose a digest frequency from the list.")
    source = choice("source", SOURCES, "Choose a source from the list.")
    dates = {
        name: _date(values, name, errors)
        for name in ("created_from", "created_to", "confirmed_from", "confirmed_to")
    }
    for start, end in (("created_from", "created_to"), ("confirmed_from", "confirmed_to")):
        if dates[start] and dates[end] and dates[start] > dates[end]:
            errors[end] = "This date is before the first one."
            dates[end] = None
    return SubscriberFilter(q, status, topic, digest, source, **dates), errors


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _starts_with(session: Session, prefix: str):
    if session.get_bind().dialect.name == "postgresql":
        return Subscriber.email.startswith(prefix, autoescape=True)
    return and_(Subscriber.email >= prefix, Subscriber.email < prefix + SQLITE_TOP)


def _source_condition(source: str):
    if source == "import":
        kept = or_(
            Consent.source == importing.IMPORT_SOURCE,
            Consent.version == importing.IMPORTED_CONSENT_VERSION,
        )
    else:
        kept = Consent.source.startswith(f"{source}:", autoescape=True)
    return exists().where(Consent.subscriber_id == Subscriber.id, kept)


def filtered(session: Session, flt: SubscriberFilter) -> Select:
    """`SELECT subscribers` with every condition of `flt`, unordered."""
    statement = select(Subscriber)
    if flt.exact:
        try:
            address = normalise_email(flt.q)
        except InvalidAddress:
            address = flt.q.lower()  # finds nobody, as it should, without a 500
        statement = statement.where(Subscriber.email == address)
    elif flt.prefix:
        statement = statement.where(_starts_with(session, flt.prefix))
    if flt.status:
        statement = statement.where(Subscriber.status == flt.status)
    if flt.digest:
        statement = statement.where(Subscriber.digest == flt.digest)
    if flt.topic:
        statement = statement.where(
            exists().where(
                subscriber_topics.c.subscriber_id == Subscriber.id,
                subscriber_topics.c.topic_id
                == select(Topic.id).where(Topic.slug == flt.topic).scalar_subquery(),
            )
        )
    if flt.source:
        statement = statement.where(_source_condition(flt.source))
    for column, start, end in (
        (Subscriber.created_at, flt.created_from, flt.created_to),
        (Subscriber.confirmed_at, flt.confirmed_from, flt.confirmed_to),
    ):
        if start:
            statement = statement.where(column >= _start_of(start))
        if end:
            statement = statement.where(column < _start_of(end + timedelta(days=1)))
    return statement


@dataclass
class SubscriberPage:
    """One page of a filtered list, newest first. `after`/`before` are the ids to page on."""

    rows: list[Subscriber]
    total: int
    after: int | None = None  # the next (older) page: ids below this
    before: int | None = None  # the previous (newer) page: ids above this
    filter: SubscriberFilter = field(default_factory=SubscriberFilter)


def count(session: Session, flt: SubscriberFilter) -> int:
    statement = filtered(session, flt).with_only_columns(func.count(Subscriber.id))
    return int(session.scalar(statement) or 0)


def subscriber_page(
    session: Session,
    flt: SubscriberFilter,
    *,
    after: int | None = None,
    before: int | None = None,
    per_page: int = PER_PAGE,
) -> SubscriberPage:
    """A page of subscribers matching `flt`, newest first, by keyset on the id: the page
    below id `after`, or the page above id `before` (one of them, or neither for the first).
    Equally fast at any depth; the total is one COUNT of the filter."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    base = filtered(session, flt)
    if before is not None:
        # The page just above `before`: the lowest ids past it, shown newest first.
        rows = list(
            session.scalars(
                base.where(Subscriber.id > before).order_by(Subscriber.id).limit(per_page + 1)
            )
        )
        newer = len(rows) > per_page
        rows = list(reversed(rows[:per_page]))
        older = bool(rows) and _any(session, flt, Subscriber.id < rows[-1].id)
    else:
        if after is not None:
            base = base.where(Subscriber.id < after)
        rows = list(session.scalars(base.order_by(Subscriber.id.desc()).limit(per_page + 1)))
        older = len(rows) > per_page
        rows = rows[:per_page]
        newer = after is not None and _any(session, flt, Subscriber.id >= after)
    page = SubscriberPage(rows=rows, total=count(session, flt), filter=flt)
    if rows:
        page.after = rows[-1].id if older else None
        page.before = rows[0].id if newer else None
    return page


def _any(session: Session, flt: SubscriberFilter, condition) -> bool:
    statement = filtered(session, flt).where(condition).with_only_columns(Subscriber.id).limit(1)
    return session.scalar(statement) is not None


# --- CSV export ------------------------------------------------------------------------------

CSV_COLUMNS = (
    "id",
    "email",
    "status",
    "topics",
    "digest",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
    "consent_source",
    "consent_version",
    "consented_at",
)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def csv_lines(session: Session, flt: SubscriberFilter) -> Iterator[str]:
    """The filtered subscribers as CSV text (header first), oldest first, in batches: each
    yielded piece is a batch of lines, so a million rows never sit in memory at once."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    yield out.getvalue()
    last = 0
    base = filtered(session, flt)
    while True:
        batch = list(
            session.scalars(
                base.where(Subscriber.id > last).order_by(Subscriber.id).limit(CSV_BATCH)
            )
        )
        if not batch:
            return
        latest = _latest_consents(session, [s.id for s in batch])
        out.seek(0)
        out.truncate()
        for subscriber in batch:
            consent = latest.get(subscriber.id)
            writer.writerow(
                safe_cell(value)
                for value in (
                    subscriber.id,
                    subscriber.email,
                    subscriber.status,
                    " ".join(sorted(t.slug for t in subscriber.topics)),
                    subscriber.digest,
                    _iso(subscriber.created_at),
                    _iso(subscriber.confirmed_at),
                    _iso(subscriber.unsubscribed_at),
                    consent.source if consent else "",
                    consent.version if consent else "",
                    _iso(consent.consented_at) if consent else "",
                )
            )
        yield out.getvalue()
        last = batch[-1].id
        session.expunge_all()  # what was written need not stay in the identity map


def _latest_consents(session: Session, ids: list[int]) -> dict[int, Consent]:
    newest = (
        select(func.max(Consent.id))
        .where(Consent.subscriber_id.in_(ids))
        .group_by(Consent.subscriber_id)
    )
    return {
        c.subscriber_id: c for c in session.scalars(select(Consent).where(Consent.id.in_(newest)))
    }


# --- one reader's record ------------------------------------------------------------------------

RECORD_LIMIT = 100


@dataclass(frozen=True)
class DeliveryLine:
    kind: str  # "newsletter" or "digest"
    title: str
    status: str
    bounce: str | None
    reply: str
    sent_at: datetime | None
    created_at: datetime


def deliveries(
    session: Session, subscriber_id: int, limit: int = RECORD_LIMIT
) -> list[DeliveryLine]:
    """The subscriber's newest deliveries, with what the mail server replied."""
    from engage.community.models import DigestEdition  # producers sit above this area
    from engage.newsletters.models import Newsletter
    from engage.sending.models import Delivery

    rows = session.execute(
        select(Delivery, Newsletter.subject, DigestEdition.frequency, DigestEdition.period)
        .outerjoin(Newsletter, Delivery.newsletter_id == Newsletter.id)
        .outerjoin(DigestEdition, Delivery.digest_edition_id == DigestEdition.id)
        .where(Delivery.subscriber_id == subscriber_id)
        .order_by(Delivery.id.desc())
        .limit(limit)
    ).all()
    lines = []
    for delivery, subject, frequency, period in rows:
        if delivery.newsletter_id is not None:
            kind, title = "newsletter", subject or f"Newsletter {delivery.newsletter_id}"
        else:
            kind, title = (
                "digest",
                f"{(frequency or '').capitalize()} digest {period or ''}".strip(),
            )
        lines.append(
            DeliveryLine(
                kind,
                title,
                delivery.status,
                delivery.bounce,
                delivery.smtp_reply or "",
                delivery.sent_at,
                delivery.created_at,
            )
        )
    return lines


def bounce_events(session: Session, subscriber: Subscriber, limit: int = RECORD_LIMIT) -> list:
    """Bounces and complaints about the subscriber, newest first, as dicts of `occurred_at`,
    `kind`, `status` and `source` (engage.sending.bounces.history: what an editor may see)."""
    from engage.sending.bounces import history  # sending sits beside this area, not below

    return history(session, subscriber.id, subscriber.email_hash, limit=limit)


def suppression_of(session: Session, subscriber: Subscriber) -> Suppression | None:
    return session.scalar(
        select(Suppression).where(Suppression.email_hash == subscriber.email_hash)
    )


def resend_confirmation(
    session: Session, subscriber: Subscriber, now: datetime | None = None
) -> Consent:
    """Note that a confirmation goes again to a pending subscriber, for their newest open
    sign-up; the caller queues it (`emails.queue_confirmation`) and commits.

    The reader's own limits hold (one per 10 minutes, three a day), so an editor cannot flood
    anyone. Raises DeskError with the reason otherwise.
    """
    now = now or utcnow()
    if subscriber.status != "pending":
        raise DeskError("Only a pending subscriber can be sent the confirmation again.")
    if suppression_of(session, subscriber) is not None:
        raise DeskError("This address is on the suppression list: nothing is sent to it.")
    open_consents = [
        c for c in subscriber.consents if c.confirmed_at is None and c.withdrawn_at is None
    ]
    if not open_consents:
        raise DeskError("This subscriber has no sign-up waiting for confirmation.")
    if not service.count_confirmation_if_allowed(subscriber, now):
        raise DeskError(
            "A confirmation went to this address a short while ago (at most one every "
            f"{int(service.CONFIRMATION_COOLDOWN.total_seconds() // 60)} minutes and "
            f"{service.CONFIRMATIONS_PER_DAY} a day). Please try again later."
        )
    session.flush()
    return open_consents[-1]


# --- the suppression list --------------------------------------------------------------------


@dataclass(frozen=True)
class SuppressionLine:
    suppression: Suppression
    email: str | None  # only while a subscriber row with that hash still exists
    subscriber_id: int | None

    @property
    def hash_prefix(self) -> str:
        return self.suppression.email_hash[:HASH_SHOWN]


@dataclass
class SuppressionPage:
    lines: list[SuppressionLine]
    total: int
    after: int | None = None
    before: int | None = None


def suppression_hash_for(text: str) -> str:
    """The keyed hash to look an address up by. Raises DeskError for text that is no address."""
    try:
        return service.address_hash(normalise_email(text))
    except InvalidAddress:
        raise DeskError(
            "Type a whole email address: the list keeps only a keyed hash of each."
        ) from None


def _suppressions(reason: str = "", email_hash: str | None = None) -> Select:
    statement = select(Suppression, Subscriber.email, Subscriber.id).outerjoin(
        Subscriber, Subscriber.email_hash == Suppression.email_hash
    )
    if reason:
        statement = statement.where(Suppression.reason == reason)
    if email_hash is not None:
        statement = statement.where(Suppression.email_hash == email_hash)
    return statement


def suppression_page(
    session: Session,
    *,
    reason: str = "",
    email_hash: str | None = None,
    after: int | None = None,
    before: int | None = None,
    per_page: int = PER_PAGE,
) -> SuppressionPage:
    """Suppressions, newest first, by keyset on the id (as `subscriber_page`)."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    base = _suppressions(reason, email_hash)
    if before is not None:
        rows = session.execute(
            base.where(Suppression.id > before).order_by(Suppression.id).limit(per_page + 1)
        ).all()
        newer, rows = len(rows) > per_page, list(reversed(rows[:per_page]))
        older = (
            bool(rows)
            and session.scalar(
                base.where(Suppression.id < rows[-1][0].id)
                .with_only_columns(Suppression.id)
                .limit(1)
            )
            is not None
        )
    else:
        if after is not None:
            base = base.where(Suppression.id < after)
        rows = session.execute(base.order_by(Suppression.id.desc()).limit(per_page + 1)).all()
        older, rows = len(rows) > per_page, rows[:per_page]
        newer = (
            after is not None
            and session.scalar(
                _suppressions(reason, email_hash)
                .where(Suppression.id >= after)
                .with_only_columns(Suppression.id)
                .limit(1)
            )
            is not None
        )
    total = session.scalar(
        _suppressions(reason, email_hash).with_only_columns(func.count(Suppression.id))
    )
    lines = [SuppressionLine(s, email, sid) for s, email, sid in rows]
    page = SuppressionPage(lines, int(total or 0))
    if lines:
        page.after = lines[-1].suppression.id if older else None
        page.before = lines[0].suppression.id if newer else None
    return page


def suppression_counts(session: Session) -> dict[str, int]:
    """Suppressions by reason, and in all."""
    by_reason = dict(
        session.execute(select(Suppression.reason, func.count()).group_by(Suppression.reason)).all()
    )
    return {"all": sum(by_reason.values()), **by_reason}


def clean_note(note: str | None) -> str:
    """The note of a lift, on one line. Raises DeskError when empty or too long."""
    text = " ".join(service.printable(note or "", 10_000).split())
    if not text:
        raise DeskError("Please say why the suppression is lifted.")
    if len(text) > NOTE_LIMIT:
        raise DeskError(f"Please keep the note to {NOTE_LIMIT} characters.")
    return text


def lift_suppression(
    session: Session,
    suppression: Suppression,
    note: str | None,
    *,
    user=None,
    api_key=None,
    now: datetime | None = None,
) -> SuppressionLift:
    """Remove a suppression and keep who lifted it, when, why and the reason it had.

    Re-subscribes nobody: the address may only be mailed again after a new sign-up (with its
    own confirmation) or an import with new evidence. Raises DeskError for a bad note. Flushes.
    """
    text = clean_note(note)
    if user is not None:
        who = user.email
    elif api_key is not None:
        who = f"API key “{api_key.name}” (#{api_key.id})"
    else:
        raise ValueError("a lift needs a user or an API key")
    lift = SuppressionLift(
        suppression_id=suppression.id,
        email_hash=suppression.email_hash,
        reason=suppression.reason,
        suppressed_at=suppression.created_at,
        note=text,
        user_id=user.id if user is not None else None,
        api_key_id=api_key.id if api_key is not None else None,
        lifted_by=who[:300],
        lifted_at=now or utcnow(),
    )
    session.add(lift)
    session.delete(suppression)
    session.flush()
    return lift


def recent_lifts(session: Session, limit: int = 20) -> list[SuppressionLift]:
    return list(
        session.scalars(select(SuppressionLift).order_by(SuppressionLift.id.desc()).limit(limit))
    )


def desk_counts(session: Session) -> dict[str, int]:
    """For the staff dashboard: subscribers in all and confirmed, and suppressions."""
    by_status = dict(
        session.execute(select(Subscriber.status, func.count()).group_by(Subscriber.status)).all()
    )
    return {
        "subscribers": sum(by_status.values()),
        "confirmed": by_status.get("confirmed", 0),
        "pending": by_status.get("pending", 0),
        "suppressions": int(session.scalar(select(func.count(Suppression.id))) or 0),
    }
