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

Set-based: every row is checked in Python first, then a batch reads what it needs in a few
statements (the known subscribers with their topics and consents, the suppressed hashes, the
topics) and writes with one flush (bulk INSERTs of subscribers, topic links and consent rows)
and one DELETE of lifted suppressions. A rejected row is decided before anything is written,
so it leaves nothing behind. Functions flush; the caller commits.

Imports larger than SYNC_ROWS become an ImportJob, processed by a worker in batches, each
committed with the job's progress (`run_import_job`).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, deferred, mapped_column, selectinload

from engage.extensions import db
from engage.subscriptions import service
from engage.subscriptions.emails import queue_signup_email
from engage.subscriptions.models import Consent, Subscriber, Suppression, Topic
from engage.types import UTCDateTime, opaque_id, utcnow

#: The most rows one request may send (and MAX_CONTENT_LENGTH bounds the body).
MAX_ROWS = 20_000
#: Imports up to this size are answered at once; larger ones become an ImportJob.
SYNC_ROWS = 1000
#: Rows `import_subscribers` takes at once: one set of reads and one flush.
BATCH_ROWS = 1000
#: Rows a job step imports and commits with its progress.
JOB_BATCH = 500
#: Finished jobs (and the rejected addresses they list) are deleted after this.
JOB_RETENTION = timedelta(days=30)
#: A queued or running job without progress for this long has lost its task.
JOB_STALLED = timedelta(minutes=10)
#: Errors a job survives (each run resumes where the last commit left off); then it fails.
JOB_MAX_FAILURES = 5
#: Addresses per IN (...) list, well under every backend's parameter limit.
_IN_CHUNK = 500
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
    #: Sign-ups whose email the caller queues (`emails.queue_signup_email`) before committing.
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


@dataclass
class _Prepared:
    """A row past the checks that need no database: its normalised address and evidence."""

    index: int
    row: ImportRow
    address: str
    email_hash: str
    evidence: ConsentEvidence | None


def _prepare(row: ImportRow, index: int, first_seen: dict[str, int], now: datetime) -> _Prepared:
    """The checks before any query, in the order their messages have always come.
    Raises RowRejected or service.InvalidAddress."""
    _check_row(row)
    address = service.normalise_email(row.email)
    if address in first_seen:
        raise RowRejected(
            f"This address already appears in row {first_seen[address]} of this import."
        )
    first_seen[address] = index
    evidence = _evidence(row, now) if row.confirmed else None
    return _Prepared(index, row, address, service.address_hash(address), evidence)


def _remember_addresses(rows: Sequence[ImportRow], first_seen: dict[str, int], offset: int):
    """Rebuild `first_seen` for rows already imported (a job resumed by another worker)."""
    for index, row in enumerate(rows, start=offset):
        try:
            _check_row(row)
            address = service.normalise_email(row.email)
        except (RowRejected, service.InvalidAddress):
            continue
        first_seen.setdefault(address, index)


def _chunks(values: list, size: int = _IN_CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass
class _Known:
    """What a batch reads before it writes: a few statements, whatever its size."""

    subscribers: dict[str, Subscriber]
    suppressed_since: dict[str, datetime]
    topics: dict[str, Topic]


def _read(session: Session, prepared: list[_Prepared]) -> _Known:
    subscribers: dict[str, Subscriber] = {}
    suppressed: dict[str, datetime] = {}
    for part in _chunks(prepared):
        found = session.scalars(
            select(Subscriber)
            .where(Subscriber.email.in_([p.address for p in part]))
            .options(selectinload(Subscriber.consents))  # topics: selectin by the model
        )
        subscribers.update((s.email, s) for s in found)
        rows = session.execute(
            select(Suppression.email_hash, Suppression.created_at).where(
                Suppression.email_hash.in_([p.email_hash for p in part])
            )
        )
        suppressed.update((email_hash, since) for email_hash, since in rows)
    return _Known(subscribers, suppressed, service.topic_catalogue(session))


def _confirmed(
    session: Session, p: _Prepared, known: _Known, lift: set[str], now: datetime
) -> bool:
    """Record a confirmed subscriber with the row's evidence. True if the subscriber is new.
    Every check comes before the first change, so a rejected row changes nothing."""
    evidence = p.evidence
    subscriber = known.subscribers.get(p.address)
    suppressed_at = known.suppressed_since.get(p.email_hash)
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
    topics = service.resolve_topics(session, p.row.topics, known.topics)
    digest = service.check_digest(p.row.digest)
    created = subscriber is None
    if subscriber is None:
        subscriber = Subscriber(
            email=p.address,
            email_hash=p.email_hash,
            status="pending",  # confirmed below
            unsubscribe_id=opaque_id(),
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
    if subscriber.status == "confirmed":
        # Already confirmed: keep when they first confirmed; the evidence is confirmed now.
        if consent.confirmed_at is None:
            consent.confirmed_at = now
    else:
        service.mark_confirmed(subscriber, consent, now)
        lift.add(p.email_hash)  # new consent lifts an erasure or bounce suppression
    return created


def _pending(session: Session, p: _Prepared, known: _Known, now: datetime) -> service.SignUp:
    subscriber = known.subscribers.get(p.address)
    if p.email_hash in known.suppressed_since:
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
    topics = service.resolve_topics(session, p.row.topics, known.topics)
    digest = service.check_digest(p.row.digest)
    return service.record_sign_up(
        session, subscriber, p.address, topics, digest, source=IMPORT_SOURCE, now=now
    )


def _write(session: Session, prepared: list[_Prepared], now: datetime) -> ImportReport:
    """Decide every prepared row against the database, then write the batch in one flush."""
    known = _read(session, prepared)
    report = ImportReport()
    lift: set[str] = set()
    with session.no_autoflush:
        # Sign-ups first, then confirmed rows: objects alike in a row share one bulk INSERT
        # (the rows are independent; rejections are put back in row order by the caller).
        for p in sorted(prepared, key=lambda p: p.evidence is not None):
            try:
                if p.evidence is not None:
                    created = _confirmed(session, p, known, lift, now)
                else:
                    report.signups.append(_pending(session, p, known, now))
                    created = p.address not in known.subscribers
            except RowRejected as exc:
                report.rejected.append(Rejection(p.index, shown(p.row.email), str(exc)))
                continue
            except service.InvalidChoice as exc:
                report.rejected.append(
                    Rejection(p.index, shown(p.row.email), f"{exc.field}: {exc}")
                )
                continue
            if created:
                report.created += 1
            else:
                report.updated += 1
    session.flush()
    for part in _chunks(sorted(lift)):
        session.execute(delete(Suppression).where(Suppression.email_hash.in_(part)))
    return report


def _write_batch(session: Session, prepared: list[_Prepared], now: datetime) -> ImportReport:
    for _attempt in range(3):
        try:
            with session.begin_nested():
                return _write(session, prepared, now)
        except IntegrityError:
            # Another request wrote one of these addresses meanwhile; the savepoint undid the
            # batch, and reading again finds that row and updates it instead.
            continue
    message = (
        "This address was changed by another request at the same time; please send this row again."
    )
    return ImportReport(
        rejected=[Rejection(p.index, shown(p.row.email), message) for p in prepared]
    )


def import_subscribers(
    session: Session,
    rows: Sequence[ImportRow],
    *,
    now: datetime | None = None,
    first_seen: dict[str, int] | None = None,
    offset: int = 0,
) -> ImportReport:
    """Import `rows` (at most BATCH_ROWS); returns what was created, updated and rejected.

    A few statements per batch, whatever its size. Each row is written whole or not at all;
    rejections are listed by row index (`offset` + position). `first_seen` carries the
    addresses of earlier batches of the same import, so a repeat in a later batch is refused
    too. Nothing is committed and no email is queued: the caller queues `report.signups` and
    commits. Raises ValueError for more than BATCH_ROWS rows.
    """
    if len(rows) > BATCH_ROWS:
        raise ValueError(f"at most {BATCH_ROWS} rows per batch")
    now = now or utcnow()
    first_seen = {} if first_seen is None else first_seen
    rejected: list[Rejection] = []
    prepared: list[_Prepared] = []
    for position, row in enumerate(rows):
        index = offset + position
        try:
            prepared.append(_prepare(row, index, first_seen, now))
        except (RowRejected, service.InvalidAddress) as exc:
            rejected.append(Rejection(index, shown(row.email), str(exc)))
    report = _write_batch(session, prepared, now) if prepared else ImportReport()
    report.rejected = sorted(rejected + report.rejected, key=lambda r: r.index)
    return report


# --- Imports too large to answer at once: a job a worker runs in committed batches ----------

JOB_STATUSES = ("queued", "running", "done", "failed")


class ImportJob(db.Model):
    """One large import: its rows until they are imported, then only its counts.

    `processed` is the cursor: rows before it are imported (or rejected) and committed with
    it, in one transaction per batch, so a worker that dies repeats at most one batch.
    """

    __tablename__ = "import_jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        {"sqlite_autoincrement": True},  # the id is in a URL: never reused
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    total: Mapped[int] = mapped_column(default=0)
    processed: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    rejected_count: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    # The submitted rows as ASCII JSON text (no database JSON type: a lone surrogate or NUL
    # stays an escape); NULL once the job ends, so no address outlives the import in it.
    rows_json: Mapped[str | None] = deferred(mapped_column(Text))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Moved by every batch: a queued or running job whose mark stops has lost its task.
    progress_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportRejection(db.Model):
    """A row of an import job that was not imported, and why."""

    __tablename__ = "import_rejections"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(
        ForeignKey("import_jobs.id", ondelete="CASCADE"), index=True
    )
    row_index: Mapped[int]
    email: Mapped[str | None] = mapped_column(String(SHOWN_EMAIL_LENGTH))
    reason: Mapped[str] = mapped_column(String(500))
    # The row as the file had it, [[column, value], ...] as ASCII JSON, for a download of the
    # rejected rows (imports from the desk; NULL for the API's). Deleted with the job.
    original: Mapped[str | None] = mapped_column(Text)


def _row_to_json(row: ImportRow) -> dict:
    consent = row.consent
    return {
        "email": row.email,
        "topics": row.topics,
        "digest": row.digest,
        "confirmed": row.confirmed,
        "consent": None
        if consent is None
        else {
            "source": consent.source,
            "text": consent.text,
            "consented_at": consent.consented_at.isoformat() if consent.consented_at else None,
        },
    }


def _row_from_json(data: dict) -> ImportRow:
    consent = data.get("consent")
    return ImportRow(
        email=data["email"],
        topics=data.get("topics"),
        digest=data.get("digest"),
        confirmed=bool(data.get("confirmed")),
        consent=None
        if consent is None
        else ConsentEvidence(
            consent.get("source"),
            consent.get("text"),
            datetime.fromisoformat(consent["consented_at"])
            if consent.get("consented_at")
            else None,
        ),
    )


def create_import_job(
    session: Session,
    rows: Sequence[ImportRow],
    *,
    api_key_id: int | None = None,
    now=None,
    extras: Sequence[dict] | None = None,
) -> ImportJob:
    """Store a large import for a worker; the caller enqueues `engage.subscriptions.run_import`
    with the job's id and commits. Deletes jobs finished more than JOB_RETENTION ago.

    `extras`, one dict per row, may give a row's `original` cells (kept with its rejection)
    and a `reject` reason decided before the import (the row is then rejected with it).
    Raises ValueError for more than MAX_ROWS rows."""
    if len(rows) > MAX_ROWS:
        raise ValueError(f"at most {MAX_ROWS} rows per import")
    now = now or utcnow()
    session.execute(delete(ImportJob).where(ImportJob.finished_at < now - JOB_RETENTION))
    items = [_row_to_json(row) for row in rows]
    for item, extra in zip(items, extras or (), strict=False):
        item.update({key: extra[key] for key in ("original", "reject") if extra.get(key)})
    job = ImportJob(
        status="queued",
        total=len(rows),
        rows_json=json.dumps(items, ensure_ascii=True),
        api_key_id=api_key_id,
        created_at=now,
        progress_at=now,
    )
    session.add(job)
    session.flush()
    return job


def job_rejections(session: Session, job_id: int) -> list[ImportRejection]:
    return list(
        session.scalars(
            select(ImportRejection)
            .where(ImportRejection.job_id == job_id)
            .order_by(ImportRejection.row_index)
        )
    )


def _finish(session: Session, job_id: int, status: str, error: str | None, now: datetime):
    session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status.in_(("queued", "running")))
        .values(status=status, error=error, rows_json=None, finished_at=now, progress_at=now)
        .execution_options(synchronize_session=False)
    )


def run_import_job(
    session: Session,
    job_id: int,
    *,
    checkpoint: Callable[[], None],
    batch_size: int = JOB_BATCH,
) -> None:
    """Import a job's remaining rows, `batch_size` at a time, calling `checkpoint()` (the
    task's commit) after each batch: its subscribers, confirmation emails (queued, so sent
    at that commit), rejections and the job's progress go together.

    Idempotent: each batch first moves the job's cursor with a compare-and-set, so a second
    worker on the same job (a redelivered task) stops at once, and a rerun resumes where the
    last commit left off. A finished or unknown job does nothing. An error rolls back the
    batch, is counted on the job (checkpointed) and raised again, for the task to be retried;
    the JOB_MAX_FAILURES-th fails the job (rows from `processed` on were not imported).
    """
    job = session.get(ImportJob, job_id)
    if job is None or job.status not in ("queued", "running") or job.rows_json is None:
        return
    items = json.loads(job.rows_json)
    # A row rejected before the import goes in without an address: refused before any query,
    # it takes no place among the addresses seen, and gets its own reason back below.
    rows = [ImportRow(email="") if item.get("reject") else _row_from_json(item) for item in items]
    first_seen: dict[str, int] = {}
    _remember_addresses(rows[: job.processed], first_seen, 0)
    start, counts = job.processed, (job.created, job.updated, job.rejected_count)
    try:
        while start < len(rows):
            now = utcnow()
            batch = rows[start : start + batch_size]
            claimed = session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id, ImportJob.processed == start)
                .where(ImportJob.status.in_(("queued", "running")))
                .values(
                    status="running",
                    processed=start + len(batch),
                    progress_at=now,
                    started_at=func.coalesce(ImportJob.started_at, now),
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            if not claimed:  # another worker moved the cursor: it carries on
                session.rollback()
                return
            report = import_subscribers(
                session, batch, now=now, first_seen=first_seen, offset=start
            )
            for outcome in report.signups:
                queue_signup_email(outcome)
            if report.rejected:
                session.execute(
                    ImportRejection.__table__.insert(),
                    [_rejection_values(job_id, r, items[r.index]) for r in report.rejected],
                )
            counts = (
                counts[0] + report.created,
                counts[1] + report.updated,
                counts[2] + len(report.rejected),
            )
            session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id)
                .values(created=counts[0], updated=counts[1], rejected_count=counts[2])
                .execution_options(synchronize_session=False)
            )
            checkpoint()
            start += len(batch)
        _finish(session, job_id, "done", None, utcnow())
        checkpoint()
    except Exception:
        session.rollback()
        _count_failure(session, job_id, utcnow())
        checkpoint()
        raise


def _rejection_values(job_id: int, rejection: Rejection, item: dict) -> dict:
    original = item.get("original")
    return {
        "job_id": job_id,
        "row_index": rejection.index,
        "email": shown(item["email"]) if item.get("reject") else rejection.email,
        "reason": (item.get("reject") or rejection.reason)[:500],
        "original": None if original is None else json.dumps(original, ensure_ascii=True),
    }


def _count_failure(session: Session, job_id: int, now: datetime) -> None:
    # The error itself stays in the worker's log: its text may hold an address.
    session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status.in_(("queued", "running")))
        .values(
            failures=ImportJob.failures + 1,
            progress_at=now,
            error="The import stopped on an error; it carries on from `processed` when the "
            "worker tries again.",
        )
        .execution_options(synchronize_session=False)
    )
    failures = session.scalar(select(ImportJob.failures).where(ImportJob.id == job_id))
    if failures is not None and failures >= JOB_MAX_FAILURES:
        _finish(
            session,
            job_id,
            "failed",
            f"The import stopped on an error {failures} times; rows from `processed` on were "
            "not imported. Send them again.",
            now,
        )


def stalled_jobs(session: Session, now: datetime | None = None) -> list[int]:
    """Ids of queued or running jobs without progress for JOB_STALLED: their task was lost
    (a broker down at commit, a worker killed). Enqueue `run_import` for each again."""
    cutoff = (now or utcnow()) - JOB_STALLED
    return list(
        session.scalars(
            select(ImportJob.id).where(
                ImportJob.status.in_(("queued", "running")), ImportJob.progress_at < cutoff
            )
        )
    )
