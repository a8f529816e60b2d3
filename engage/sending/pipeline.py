"""The bulk send loop: batch workers claim delivery rows, send them over one SMTP connection
and mark each one the moment the server answered.

The database says what is done, so every step can run twice, late, or in parallel:
- `claim_batch` takes due pending rows with a lease (FOR UPDATE SKIP LOCKED on PostgreSQL; a
  single UPDATE under SQLite's write lock). A killed worker's rows go back to pending when its
  lease runs out (`release_expired_leases`), so a kill -9 repeats at most the message in flight.
- Each row is committed `sent` right after the server accepted its message.
- A 4xx for one reader defers that row alone (`next_attempt_at` with backoff, the reply kept)
  and the batch goes on; after `send_defer_attempts` the row ends `failed` as a soft bounce. A
  5xx is final: a hard bounce. Only failures of the connection itself (refused, timeouts, a
  drop, 421, or the same 4xx for many different readers in a row) count toward pausing.

Producers (newsletters, digest editions) hand a batch a `Producer`: which rows are theirs, the
message template for a row, its links and list headers, and what pausing means for them. This
package imports none of them.

These functions commit (they are the task side of the domain); the tasks in workers/tasks.py
only load ids and send the follow-up tasks a producer's plan names.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from flask import current_app
from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from engage.addresses import has_encoded_word
from engage.core.database import is_postgres, retry_database
from engage.mail.errors import PermanentFailure, TemporaryFailure
from engage.mail.message import mask_address, message_id_domain, redact_addresses
from engage.mail.render import Rendered
from engage.mail.service import transport as smtp_transport
from engage.mail.transport import SmtpTransport
from engage.sending import bounces, verp
from engage.sending.mime import MessageTemplate
from engage.sending.models import Delivery
from engage.sending.throttle import connection_slots, rate_limiter
from engage.sending.verp import DELIVERY, VerpToken
from engage.types import opaque_id, utcnow

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0  # longest wait before retrying a failed connection
WAIT_FOR_DEFERRED = 30.0  # a batch waits for deferred rows due within this, rather than exit
BATCH_TIME_BUDGET = 300.0  # a batch task hands over to a fresh one well inside the visibility
# timeout of the Redis broker (1 hour), so a long send is never redelivered mid-way
deliveries = Delivery.__table__


@dataclass
class BatchResult:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0
    outcome: str = "done"  # done | busy | stopped | paused | budget


def _settings():
    return current_app.config["ENGAGE"]


def workers_for(total: int) -> int:
    """How many batch tasks a send of `total` messages gets."""
    settings = _settings()
    return max(1, min(settings.smtp_max_connections, math.ceil(total / settings.send_batch_size)))


def due(now: datetime):
    """Pending rows that may be tried now (not deferred to later)."""
    return and_(
        deliveries.c.status == "pending",
        or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now),
    )


def delivery_counts(session: Session, which, now: datetime | None = None) -> dict[str, int]:
    """Counts of the delivery rows matching `which` (one producer's): total, sent, failed,
    pending (claimed and deferred included), deferred, bounced, skipped."""
    now = now or utcnow()
    by_status = dict(
        session.execute(
            select(deliveries.c.status, func.count()).where(which).group_by(deliveries.c.status)
        ).all()
    )
    deferred = session.scalar(
        select(func.count()).where(
            which, deliveries.c.status == "pending", deliveries.c.next_attempt_at > now
        )
    )
    bounced = session.scalar(
        select(func.count()).where(
            which, deliveries.c.status == "failed", deliveries.c.bounce.is_not(None)
        )
    )
    return {
        "total": sum(by_status.values()),
        "sent": by_status.get("sent", 0),
        "failed": by_status.get("failed", 0),
        "pending": by_status.get("pending", 0) + by_status.get("claimed", 0),
        "deferred": deferred or 0,
        "bounced": bounced or 0,
        "skipped": by_status.get("skipped", 0),
    }


def open_rows(session: Session, which, now: datetime | None = None) -> tuple[int, int, int]:
    """(due pending, claimed, deferred) rows among those matching `which`."""
    now = now or utcnow()
    rows = dict(
        session.execute(
            select(deliveries.c.status, func.count())
            .where(which, deliveries.c.status.in_(("pending", "claimed")))
            .group_by(deliveries.c.status)
        ).all()
    )
    deferred = 0
    if rows.get("pending"):
        deferred = session.scalar(
            select(func.count()).where(
                which, deliveries.c.status == "pending", deliveries.c.next_attempt_at > now
            )
        )
    return rows.get("pending", 0) - deferred, rows.get("claimed", 0), deferred


def survey(
    session: Session,
    parent_ids,
    rows_of: Callable[[int], object],
    finish: Callable[[Session, int, datetime], bool],
    now: datetime,
) -> tuple[list[int], list[tuple[int, int]]]:
    """For each open send of one producer: `finish` it when no row is left, or plan batch
    tasks where due rows wait for nobody (the batch tasks were lost, or a send was resumed).
    Returns (finished ids, [(id, how many batch tasks)])."""
    finished: list[int] = []
    dispatch: list[tuple[int, int]] = []
    for parent_id in parent_ids:
        ready, claimed, deferred = open_rows(session, rows_of(parent_id), now)
        if not ready and not claimed and not deferred:
            if finish(session, parent_id, now):
                finished.append(parent_id)
        elif ready and not claimed:
            dispatch.append((parent_id, workers_for(ready)))
    return finished, dispatch


def release_expired_leases(session: Session, which=None, now: datetime | None = None) -> int:
    """Put claimed rows whose lease ran out (their worker died) back to pending: those
    matching `which`, or everyone's."""
    now = now or utcnow()
    query = update(deliveries).where(
        deliveries.c.status == "claimed",
        deliveries.c.lease_until < now,
    )
    if which is not None:
        query = query.where(which)
    result = session.execute(query.values(status="pending", claim_token=None, lease_until=None))
    return result.rowcount or 0


def claim_batch(session: Session, which, token: str, size: int, lease_seconds: float) -> list[int]:
    """Claim up to `size` due pending rows matching `which` for the holder of `token`;
    returns their ids. Commits.

    PostgreSQL: FOR UPDATE SKIP LOCKED, so parallel workers take different rows. SQLite has no
    SKIP LOCKED; the single UPDATE … WHERE id IN (SELECT … LIMIT n) runs under its write lock.
    """
    session.commit()  # a fresh transaction whose first statement writes (SQLite's lock)
    now = utcnow()
    pick = select(deliveries.c.id).where(which, due(now)).order_by(deliveries.c.id).limit(size)
    if is_postgres(session):
        pick = pick.with_for_update(skip_locked=True)
    result = session.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(pick.scalar_subquery()))
        .values(
            status="claimed",
            claim_token=token,
            lease_until=now + timedelta(seconds=lease_seconds),
        )
        .returning(deliveries.c.id)
    )
    ids = sorted(result.scalars().all())
    session.commit()
    return ids


def next_due(session: Session, which) -> datetime | None:
    """When the earliest deferred row matching `which` may be tried again."""
    return session.scalar(
        select(func.min(deliveries.c.next_attempt_at)).where(
            which, deliveries.c.status == "pending"
        )
    )


def _release_mine(token: str):
    return (
        update(deliveries)
        .where(deliveries.c.claim_token == token, deliveries.c.status == "claimed")
        .values(status="pending", claim_token=None, lease_until=None)
    )


def _mark(delivery_id: int, token: str, **values):
    return (
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.claim_token == token)
        .values(lease_until=None, **values)
    )


class Runner:
    """Runs the per-message statements, each in a transaction of its own, committed at once.

    In a worker (a session bound to the engine) one connection is held for the whole batch:
    through the session, the pool would check a connection out, and ping it, for every
    transaction. On PostgreSQL it is in autocommit, one round trip per statement. Each write
    gets its own transaction also because on SQLite a write after a read in the same
    transaction fails at once ("database is locked") if someone committed in between.

    Every statement run here is safe to repeat (a mark is keyed by row and claim token), so
    when the database goes away (a restart) it reconnects and runs the statement again, for
    up to two minutes: a message the server accepted is still marked `sent`, not sent
    twice.
    """

    def __init__(self, session: Session):
        self.session = session
        self.engine = session.get_bind() if isinstance(session.get_bind(), Engine) else None
        self.conn = None
        self.autocommit = False
        self.relaxed = False
        if self.engine is not None:
            self._connect()

    def _connect(self) -> None:
        conn = self.engine.connect()
        if self.engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            self.autocommit = True
            # A worker killed with SIGKILL loses none of these commits: they are in the
            # server's WAL buffers. Only a crash of PostgreSQL itself could lose the last
            # fraction of a second of "sent" marks, and those few messages would be sent
            # again, never lost. Not waiting for the disk on every message roughly halves
            # the cost of a mark.
            conn.exec_driver_sql("SET synchronous_commit TO off")
            self.relaxed = True
        self.conn = conn

    def _run(self, execute, statement, fetch: str):
        result = execute(statement)
        return result.one_or_none() if fetch == "one" else result.rowcount

    def _once(self, statement, fetch: str):
        if self.engine is None:
            self.session.commit()
            value = self._run(self.session.execute, statement, fetch)
            self.session.commit()
            return value
        if self.conn is None:
            self._connect()
        if self.autocommit:
            return self._run(self.conn.execute, statement, fetch)
        with self.conn.begin():
            return self._run(self.conn.execute, statement, fetch)

    def run(self, statement, fetch: str = "rowcount"):
        """`fetch`: "rowcount" or "one" (the row, or None)."""
        return retry_database(
            lambda: self._once(statement, fetch), on_disconnect=self._forget_connection
        )

    def _forget_connection(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(DBAPIError):
                conn.invalidate()
            with contextlib.suppress(DBAPIError):
                conn.close()
        if self.engine is None:
            with contextlib.suppress(DBAPIError):
                self.session.rollback()

    def close(self) -> None:
        if self.conn is not None:
            if self.relaxed:  # the connection goes back to the pool: restore the default
                try:
                    self.conn.exec_driver_sql("RESET synchronous_commit")
                except DBAPIError:
                    self.conn.invalidate()  # never hand a relaxed connection to anyone else
            self.conn.close()


def build_template(subject: str, html: str | None, text: str | None) -> MessageTemplate:
    """A message built once for a whole send, completed per reader by substitution."""
    settings = _settings()
    rendered = Rendered(subject=" ".join(subject.split()), html=html or "", text=text or "")
    return MessageTemplate(
        rendered,
        sender=settings.mail_from,
        domain=message_id_domain(settings.mail_from, settings.base_url),
    )


class Producer(Protocol):
    """What a batch needs from the send it works for (a newsletter, a digest edition)."""

    label: str
    rows: object  # a SQL condition: this producer's delivery rows

    def row(self, delivery_id: int):
        """A SELECT of the row: claim_token, id, status, email, unsubscribe_id, digest and
        whatever the producer's other methods read."""

    def active(self, row) -> bool:
        """False once an editor paused or cancelled the send."""

    def wanted(self, row) -> bool:
        """False when the reader no longer wants this kind of mail."""

    def message_template(self, db: Runner, row) -> MessageTemplate | None: ...

    def links(self, row) -> tuple[dict[str, str], dict[str, str]]:
        """(placeholder values, list headers) for this reader."""

    def pause(self, db: Runner, reason: str) -> str:
        """Stop the send after connection failures; returns the batch outcome."""

    def finish(self, session: Session) -> None:
        """Mark the send done if no row is left."""


class _Batch:
    """One batch task's state: its claim token, its SMTP connection, its failure streaks."""

    def __init__(self, session: Session, send: Producer, token: str, slots):
        settings = _settings()
        self.session = session
        self.db = Runner(session)
        self.send = send
        self.token = token
        self.slots = slots
        self.limiter = rate_limiter(settings)
        self.lease = float(settings.send_lease_seconds)
        self.pause_after = settings.send_pause_after_failures
        self.backoff = settings.send_retry_backoff
        self.defer_backoff = settings.send_defer_backoff
        self.defer_attempts = settings.send_defer_attempts
        self.defer_window = timedelta(hours=settings.send_defer_hours)
        self.reconnect_after = settings.send_reconnect_after
        self.settings = settings
        self.streak = 0  # connection failures in a row
        # The last 4xx reply, and the different rows that got it in a row.
        self.same_reply: tuple[str, set[int]] = ("", set())
        self.renewed = time.monotonic()
        self.result = BatchResult()

    def renew(self, force: bool = False) -> None:
        """Extend the lease on this batch's rows (and its connection slot) before it lapses."""
        if not force and time.monotonic() - self.renewed < self.lease / 3:
            return
        self.db.run(
            update(deliveries)
            .where(deliveries.c.claim_token == self.token, deliveries.c.status == "claimed")
            .values(lease_until=utcnow() + timedelta(seconds=self.lease))
        )
        self.slots.acquire(self.token, self.lease)
        self.renewed = time.monotonic()

    def stop(self, outcome: str) -> str:
        self.db.run(_release_mine(self.token))
        self.result.outcome = outcome
        return outcome

    def pause(self, reason: str) -> str:
        outcome = self.send.pause(self.db, reason)
        log.warning("%s %s: %s", self.send.label, outcome, reason)
        return self.stop(outcome)

    def send_rows(self, transport: SmtpTransport, ids: list[int]) -> str | None:
        """Send the claimed rows in order; returns an outcome when the batch must stop."""
        for delivery_id in ids:
            self.renew()
            row = self.db.run(self.send.row(delivery_id), "one")
            if row is None or row.claim_token != self.token:
                continue  # the lease lapsed and another worker has it, or it was erased
            if not self.send.active(row):
                return self.stop("stopped")  # paused or cancelled by an editor
            template = self.send.message_template(self.db, row)
            if (
                row.status != "confirmed"
                or not row.email
                or not self.send.wanted(row)
                or has_encoded_word(row.email)  # stored before such addresses were refused
            ):
                template = None  # unsubscribed (or erased) since the send started
            if template is None:
                if self.db.run(_mark(delivery_id, self.token, status="skipped")):
                    self.result.skipped += 1
                continue
            outcome = self.send_one(transport, delivery_id, row, template)
            if outcome is not None:
                return outcome
            if transport.sent_on_connection >= self.reconnect_after:
                transport.close()
        return None

    def _connection_failure(self, exc: TemporaryFailure) -> bool:
        """A failure of the connection or the server as a whole, not of one reader's
        address: no reply at all (refused, timeout, drop), or 421 (the server closes)."""
        return exc.code is None or exc.code == 421

    def defer(self, delivery_id: int, row, exc: TemporaryFailure) -> str | None:
        """A 4xx for this reader: try them again later, and let the batch go on."""
        reply = redact_addresses(f"{exc.code or ''} {exc.text or exc}".strip())[:500]
        now = utcnow()
        attempts, first = self.db.run(
            select(deliveries.c.attempts, deliveries.c.first_deferred_at).where(
                deliveries.c.id == delivery_id
            ),
            "one",
        )
        attempts += 1
        first = first or now
        if attempts >= self.defer_attempts or now - first >= self.defer_window:
            values = {"status": "failed", "claim_token": None}
            self.result.failed += 1
        else:
            wait = self.defer_backoff * 2 ** (attempts - 1)
            values = {
                "status": "pending",
                "claim_token": None,
                "next_attempt_at": now + timedelta(seconds=wait),
            }
            self.result.deferred += 1
        self.db.run(
            _mark(
                delivery_id,
                self.token,
                attempts=attempts,
                first_deferred_at=first,
                smtp_reply=reply,
                **values,
            )
        )
        if values["status"] == "failed":
            # Given up on: a soft bounce, counted like one reported later.
            self._bounced(delivery_id, row, exc)
        log.info("%s: %s deferred (%s)", self.send.label, mask_address(row.email), reply)
        # The same 4xx for reader after reader is about the server, not about them (one
        # reader's full mailbox, tried again and again, is about that reader).
        previous, rows = self.same_reply
        rows = rows | {delivery_id} if reply == previous else {delivery_id}
        self.same_reply = (reply, rows)
        count = len(rows)
        if count >= self.pause_after:
            return self.pause(
                f"Paused: the mail server gave {count} different readers in a row the same "
                f"temporary refusal. Last reply: {reply}"
            )
        return None

    def _bounced(self, delivery_id: int, row, exc) -> None:
        """A refusal that ended the row: the same rule as a bounce reported later
        (engage/sending/bounces.py) decides what it means for the reader. Commits."""
        self.session.commit()
        report = bounces.smtp_refusal(
            row.email, exc.code, exc.text or str(exc), VerpToken(DELIVERY, delivery_id)
        )
        retry_database(
            lambda: (bounces.apply(self.session, report), self.session.commit()),
            on_disconnect=self.session.rollback,
        )

    def send_one(
        self, transport: SmtpTransport, delivery_id: int, row, template: MessageTemplate
    ) -> str | None:
        values, headers = self.send.links(row)
        message = template.build(row.email, values, headers)
        # A bounce to this address names the delivery row, days later (engage/sending/verp.py).
        sender = verp.envelope_sender(self.settings, verp.DELIVERY, delivery_id, message.sender)
        self.limiter.acquire()
        while True:
            try:
                reply = transport.send_raw(
                    sender,
                    [message.recipient],
                    message.raw,
                    international=message.international,
                )
            except PermanentFailure as exc:
                self.streak = 0
                self.same_reply = ("", set())
                text = redact_addresses(f"{exc.code or ''} {exc.text or exc}".strip())
                if self.db.run(
                    _mark(
                        delivery_id,
                        self.token,
                        status="failed",
                        smtp_reply=text[:500],
                        attempts=deliveries.c.attempts + 1,
                    )
                ):
                    self.result.failed += 1
                    self._bounced(delivery_id, row, exc)
                return None
            except TemporaryFailure as exc:
                if not self._connection_failure(exc):
                    self.streak = 0
                    return self.defer(delivery_id, row, exc)
                self.streak += 1
                self.db.run(
                    update(deliveries)
                    .where(deliveries.c.id == delivery_id)
                    .values(smtp_reply=redact_addresses(str(exc))[:500])
                )
                if self.streak >= self.pause_after:
                    return self.pause(
                        f"Paused after {self.streak} failed attempts in a row to reach the "
                        f"mail server. Last error: {redact_addresses(str(exc))}"
                    )
                delay = min(MAX_BACKOFF, self.backoff * 2 ** (self.streak - 1))
                log.info("connection failure (%s); retrying in %.2fs", exc, delay)
                time.sleep(delay)
                self.renew(force=delay > self.lease / 3)
                continue
            self.streak = 0
            self.same_reply = ("", set())
            if self.db.run(
                _mark(
                    delivery_id,
                    self.token,
                    status="sent",
                    sent_at=utcnow(),
                    smtp_reply=reply[:500],
                    attempts=deliveries.c.attempts + 1,
                )
            ):
                self.result.sent += 1
            return None


def send_batches(
    session: Session,
    load: Callable[[Session], Producer | None],
    time_budget: float = BATCH_TIME_BUDGET,
) -> BatchResult:
    """Send a producer's due rows over one SMTP connection until none are left, the send is
    paused or cancelled, or `time_budget` seconds passed (outcome "budget": send another batch
    task). Commits after every message. Without a free connection slot it does nothing
    (outcome "busy"): the periodic tick plans batches again if nobody works on them.

    Deferred rows that come due within WAIT_FOR_DEFERRED seconds are waited for; later ones
    are left to the periodic tick.
    """
    settings = _settings()
    slots = connection_slots(settings)
    token = opaque_id()
    if not slots.acquire(token, settings.send_lease_seconds):
        return BatchResult(outcome="busy")
    deadline = time.monotonic() + time_budget
    try:
        send = load(session)
        if send is None:
            return BatchResult(outcome="stopped")
        batch = _Batch(session, send, token, slots)
        session.commit()
        with contextlib.closing(batch.db), smtp_transport() as transport:
            while True:
                if time.monotonic() > deadline:
                    batch.result.outcome = "budget"
                    break
                ids = retry_database(
                    lambda: claim_batch(
                        session, send.rows, token, settings.send_batch_size, batch.lease
                    ),
                    on_disconnect=session.rollback,
                )
                if not ids:
                    if release_expired_leases(session, send.rows):
                        session.commit()
                        continue
                    if _wait_for_deferred(session, send, batch, deadline):
                        continue
                    send.finish(session)
                    session.commit()
                    break
                batch.renewed = time.monotonic()
                if batch.send_rows(transport, ids) is not None:
                    break
        return batch.result
    except BaseException:
        with contextlib.suppress(DBAPIError):
            session.rollback()
            session.execute(_release_mine(token))  # someone else may take them at once
            session.commit()
        raise
    finally:
        slots.release(token)


def _wait_for_deferred(session: Session, send: Producer, batch: _Batch, deadline: float) -> bool:
    """Sleep until the earliest deferred row is due, if that is soon; True if it slept."""
    when = next_due(session, send.rows)
    session.commit()
    if when is None:
        return False
    wait = (when - utcnow()).total_seconds()
    if wait > min(WAIT_FOR_DEFERRED, deadline - time.monotonic()):
        return False
    while wait > 0:
        step = min(wait, batch.lease / 3)
        time.sleep(step)
        batch.slots.acquire(batch.token, batch.lease)
        wait -= step
    return True
