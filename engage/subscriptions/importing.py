"""Bulk import of subscribers: each row validated on its own and written whole or not at all.

The rules on top of the sign-up rules in `service` (which this module reuses, never repeats):

- A row marked `confirmed` needs consent evidence (where, what the person agreed to, when, with
  an offset). It becomes a confirmed subscriber with that evidence as a Consent row, and gets no
  email. Any other row is a double opt-in sign-up: pending, with a confirmation email (subject to
  the service's rate limit) that the caller queues after commit.
- An address already known is updated only with new evidence, or while it is still pending:
  an import never changes a confirmed subscriber's choices, nor brings back someone who
  unsubscribed or was erased or bounced, without consent given after they left.
- An address that appears twice in one import: the later row is rejected.
- Internationalised (non-ASCII) addresses are rejected: mail cannot be sent to them yet.

Every row runs in its own SAVEPOINT, so a rejected row leaves nothing behind. Functions flush;
the caller commits.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engage.subscriptions import service
from engage.subscriptions.models import Consent, Subscriber, Suppression
from engage.types import utcnow

MAX_ROWS = 1000
MAX_TOPICS = 50
MAX_TOPIC_SLUG = 64
MAX_DIGEST = 16
MAX_SOURCE = 300  # the Consent.source column
MAX_CONSENT_TEXT = 10_000
SHOWN_EMAIL_LENGTH = 100
#: Consent evidence older than "now" by less than this is fine; later than that is refused.
CLOCK_SKEW = timedelta(minutes=5)
#: Consent.version of evidence brought in by an import: it is not our form's text.
IMPORTED_CONSENT_VERSION = "imported"
#: Consent.source of a pending sign-up created by an import.
IMPORT_SOURCE = "api:import"

_LINE_BREAKS = frozenset("\r\n\t")


@dataclass(frozen=True)
class ConsentEvidence:
    """What a person agreed to, where, and when (an aware datetime)."""

    source: str | None = None
    text: str | None = None
    consented_at: datetime | None = None


@dataclass(frozen=True)
class ImportRow:
    email: str
    topics: list[str] | None = None
    digest: str | None = None
    confirmed: bool = False
    consent: ConsentEvidence | None = None


@dataclass(frozen=True)
class Rejection:
    index: int
    email: str | None  # the submitted value, shortened and without control characters
    reason: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    #: Sign-ups whose email the caller queues (`views.queue_signup_email`) before committing.
    signups: list[service.SignUp] = field(default_factory=list)


class RowRejected(ValueError):
    """One row cannot be imported; the message says why, fit to show the person importing."""


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    """True if `value` holds a control character, line separator or lone surrogate.

    With `multiline`, CR, LF and tab are allowed (a consent text is a paragraph, never a header).
    """
    for char in value:
        if multiline and char in _LINE_BREAKS:
            continue
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            return True
    return False


def shown(value: object) -> str | None:
    """A submitted value made safe to echo back: printable characters only, shortened."""
    if not isinstance(value, str):
        return None
    clean = "".join(
        char for char in value if unicodedata.category(char) not in ("Cc", "Cs", "Zl", "Zp", "Cf")
    )
    if len(clean) > SHOWN_EMAIL_LENGTH:
        clean = clean[: SHOWN_EMAIL_LENGTH - 1] + "…"
    return clean


def _check_text(name: str, value: str | None, limit: int, *, multiline: bool = False) -> None:
    if value is None:
        return
    if len(value) > limit:
        raise RowRejected(f"{name} is longer than {limit} characters.")
    if has_control_characters(value, multiline=multiline):
        raise RowRejected(f"{name} contains a line break or another control character.")


def _check_row(row: ImportRow) -> None:
    """Shape and length checks that need no database."""
    # The address first: its own message is clearer than a generic one about control characters.
    if has_control_characters(row.email):
        raise RowRejected("email contains a line break or another control character.")
    if row.topics is not None:
        if len(row.topics) > MAX_TOPICS:
            raise RowRejected(f"topics lists more than {MAX_TOPICS} topics.")
        for slug in row.topics:
            _check_text("topics", slug, MAX_TOPIC_SLUG)
    _check_text("digest", row.digest, MAX_DIGEST)
    if row.consent is not None:
        _check_text("consent.source", row.consent.source, MAX_SOURCE)
        _check_text("consent.text", row.consent.text, MAX_CONSENT_TEXT, multiline=True)


def _evidence(row: ImportRow, now: datetime) -> ConsentEvidence:
    """The row's consent evidence, complete and believable, or RowRejected."""
    consent = row.consent
    if (
        consent is None
        or not (consent.source or "").strip()
        or not (consent.text or "").strip()
        or consent.consented_at is None
    ):
        raise RowRejected(
            "confirmed: true needs consent evidence: consent.source, consent.text and "
            "consent.consented_at. Leave confirmed out to send a confirmation email instead."
        )
    if consent.consented_at.tzinfo is None:
        raise RowRejected("consent.consented_at needs a UTC offset.")
    if consent.consented_at > now + CLOCK_SKEW:
        raise RowRejected("consent.consented_at is in the future.")
    return ConsentEvidence(consent.source.strip(), consent.text.strip(), consent.consented_at)


def _suppressed_since(session: Session, address: str) -> datetime | None:
    return session.scalar(
        select(Suppression.created_at).where(
            Suppression.email_hash == service.address_hash(address)
        )
    )


def _import_confirmed(
    session: Session,
    address: str,
    subscriber: Subscriber | None,
    row: ImportRow,
    evidence: ConsentEvidence,
    now: datetime,
) -> bool:
    """Record a confirmed subscriber with the row's evidence. True if the subscriber is new."""
    suppressed_at = _suppressed_since(session, address)
    if suppressed_at is not None and evidence.consented_at <= suppressed_at:
        raise RowRejected(
            "This address is on the suppression list (it was erased or bounced) since before "
            "consent.consented_at; it can only come back with consent given after that."
        )
    if (
        subscriber is not None
        and subscriber.status == "unsubscribed"
        and subscriber.unsubscribed_at is not None
        and evidence.consented_at <= subscriber.unsubscribed_at
    ):
        raise RowRejected(
            "This person unsubscribed after consent.consented_at; they come back only with "
            "consent given after they left."
        )
    topics = service.resolve_topics(session, row.topics)
    digest = service.check_digest(row.digest)
    created = subscriber is None
    if subscriber is None:
        subscriber = Subscriber(
            email=address,
            email_hash=service.address_hash(address),
            status="pending",  # service.confirm below makes it confirmed
            created_at=now,
        )
        session.add(subscriber)
    subscriber.topics = topics
    subscriber.digest = digest

    # The same evidence sent twice (a double submit) is recorded once.
    consent = next(
        (
            c
            for c in subscriber.consents
            if c.source == evidence.source
            and c.text == evidence.text
            and c.consented_at == evidence.consented_at
            and c.withdrawn_at is None
        ),
        None,
    )
    if consent is None:
        consent = Consent(
            subscriber=subscriber,
            source=evidence.source,
            text=evidence.text,
            version=IMPORTED_CONSENT_VERSION,
            consented_at=evidence.consented_at,
            confirmation_sent_at=None,
        )
        session.add(consent)
    session.flush()
    if subscriber.status == "confirmed":
        # Already confirmed: keep when they first confirmed; the evidence is confirmed now.
        if consent.confirmed_at is None:
            consent.confirmed_at = now
        session.flush()
    else:
        service.confirm(session, subscriber.id, consent.id, now=now)
    return created


def _import_pending(
    session: Session, address: str, subscriber: Subscriber | None, row: ImportRow, now: datetime
) -> service.SignUp:
    if service.is_suppressed(session, address):
        raise RowRejected(
            "This address is on the suppression list (it was erased or bounced); it can only be "
            "imported as confirmed: true with consent evidence given after that."
        )
    if subscriber is not None and subscriber.status == "confirmed":
        raise RowRejected(
            "This address is already a confirmed subscriber; their choices change only with new "
            "consent evidence (confirmed: true) or by the subscriber."
        )
    if subscriber is not None and subscriber.status == "unsubscribed":
        raise RowRejected(
            "This person unsubscribed; they are added back only as confirmed: true with consent "
            "evidence given after they left."
        )
    return service.sign_up(
        session, address, topics=row.topics, digest=row.digest, source=IMPORT_SOURCE, now=now
    )


def import_subscribers(
    session: Session, rows: Sequence[ImportRow], *, now: datetime | None = None
) -> ImportReport:
    """Import `rows` (at most MAX_ROWS); returns what was created, updated and rejected.

    Each row is written whole or not at all (a SAVEPOINT per row). Nothing is committed and no
    email is queued: the caller queues `report.signups` and commits. Raises ValueError for more
    than MAX_ROWS rows.
    """
    if len(rows) > MAX_ROWS:
        raise ValueError(f"at most {MAX_ROWS} rows per import")
    now = now or utcnow()
    report = ImportReport()
    first_seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        try:
            _check_row(row)
            address = service.normalise_email(row.email)
            if address in first_seen:
                raise RowRejected(
                    f"This address already appears in row {first_seen[address]} of this import."
                )
            first_seen[address] = index
            evidence = _evidence(row, now) if row.confirmed else None
            outcome = None
            with session.begin_nested():
                subscriber = session.scalar(select(Subscriber).where(Subscriber.email == address))
                if evidence is not None:
                    created = _import_confirmed(session, address, subscriber, row, evidence, now)
                else:
                    outcome = _import_pending(session, address, subscriber, row, now)
                    created = subscriber is None
        except (RowRejected, service.InvalidAddress, service.ConfirmError) as exc:
            report.rejected.append(Rejection(index, shown(row.email), str(exc)))
            continue
        except service.InvalidChoice as exc:
            report.rejected.append(Rejection(index, shown(row.email), f"{exc.field}: {exc}"))
            continue
        except IntegrityError:
            # Another request wrote the same address meanwhile; the savepoint undid this row.
            report.rejected.append(
                Rejection(
                    index,
                    shown(row.email),
                    "This address was changed by another request at the same time; "
                    "please send this row again.",
                )
            )
            continue
        if outcome is not None:
            report.signups.append(outcome)
        if created:
            report.created += 1
        else:
            report.updated += 1
    return report
