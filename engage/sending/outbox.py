"""The transactional outbox: the one seam between the domain and the workers.

Work for the workers (an email, a follow-up job) is an `OutboxMessage` row written in the same
database transaction as the change that causes it (`add`, through `engage.queue.enqueue` and
`engage.mail.service.queue_email`). So a rolled-back action sends nothing, a worker never looks
for a row that is not there yet, and a broker that is down at commit time delays the work
instead of losing it.

The relay hands rows to Celery by id: right after the commit (`kick`, best effort) and on beat
every few seconds (`relay`, which also picks up what the kick could not send, what a restarted
broker lost, and what is due for another attempt). The broker only ever carries the row's id;
the task's arguments stay in the database.

`run` is how a worker executes a row: it claims it with a lease (so a duplicate delivery, or a
second relay, finds it taken or done and does nothing), runs the task, and marks it done. A
temporary failure puts the row back to pending with backoff (capped at a few minutes) until
`outbox_retry_hours` have passed; then it is `failed`, and staff see it with the last error. A
worker killed mid-task leaves the row `running` until its lease lapses; the relay then hands
it out again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from engage.core.database import is_disconnect, is_postgres, retry_database
from engage.mail.errors import PermanentFailure, TemporaryFailure
from engage.mail.message import redact_addresses
from engage.sending.models import OutboxMessage
from engage.types import utcnow

log = logging.getLogger(__name__)

OUTBOX_KWARG = "_outbox"  # the one keyword argument a relayed task message carries
NEW_ROWS_KEY = "engage.outbox.new_rows"
KICK_GRACE = timedelta(seconds=5)  # the kick's turn before the sweep relays a new row
SEND_EMAIL_TASK = "engage.send_email"
outbox = OutboxMessage.__table__

# Hooks by email name, run in the transaction that marks the row: `after_sent(name)` once a
# server accepted the message, `after_failed(name)` when it will not be sent.
_SENT_HOOKS: dict[str, list[Callable[[Session, OutboxMessage], None]]] = {}
_FAILED_HOOKS: dict[str, list[Callable[[Session, OutboxMessage], None]]] = {}


def after_sent(email_name: str):
    """Register `hook(session, row)` to run when email `email_name` was accepted."""

    def register(hook):
        _SENT_HOOKS.setdefault(email_name, []).append(hook)
        return hook

    return register


def after_failed(email_name: str):
    """Register `hook(session, row)` to run when email `email_name` (any, for "*") failed
    for good."""

    def register(hook):
        _FAILED_HOOKS.setdefault(email_name, []).append(hook)
        return hook

    return register


def _settings():
    return current_app.config["ENGAGE"]


# --- writing -------------------------------------------------------------------------------


def add(
    session: Session,
    task: str,
    args: Iterable = (),
    kwargs: dict | None = None,
    *,
    email: str | None = None,
    recipient: str | None = None,
) -> OutboxMessage:
    """Add work to the current transaction; it is relayed once the transaction commits.

    `args`/`kwargs` must be JSON values. Flushes (the row needs its id for the relay).
    """
    now = utcnow()
    row = OutboxMessage(
        task=task,
        args=list(args),
        kwargs=dict(kwargs or {}),
        email=email,
        recipient=recipient,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        last_error="",
    )
    session.add(row)
    session.flush()
    session.info.setdefault(NEW_ROWS_KEY, []).append((row.id, task))
    return row


def take_new_rows(session: Session) -> list[tuple[int, str]]:
    """The rows this session added since its last commit (for the kick after it)."""
    return session.info.pop(NEW_ROWS_KEY, None) or []


def forget_new_rows(session: Session) -> None:
    session.info.pop(NEW_ROWS_KEY, None)


def kick(send: Callable[[int, str], None], rows: list[tuple[int, str]]) -> int:
    """Hand freshly committed rows to the broker now; returns how many went. A broker that
    is down is logged, not raised: the periodic relay sends them later."""
    sent = 0
    for row_id, task in rows:
        try:
            send(row_id, task)
        except Exception as exc:  # noqa: BLE001 (any broker failure leaves it to the relay)
            log.warning(
                "broker unreachable (%s: %s): %d outbox row(s) wait for the relay",
                type(exc).__name__,
                exc,
                len(rows) - sent,
            )
            return sent
        sent += 1
    return sent


# --- relaying ------------------------------------------------------------------------------


def due_filter(now: datetime, relay_again: timedelta):
    """Rows the relay should hand out: pending and due, or running with a lapsed lease
    (a dead worker's); skipping those relayed recently and still waiting in the queue."""
    not_recent = or_(outbox.c.relayed_at.is_(None), outbox.c.relayed_at < now - relay_again)
    fresh_has_had_its_kick = or_(
        outbox.c.relayed_at.is_not(None),
        outbox.c.attempts > 0,
        outbox.c.created_at <= now - KICK_GRACE,
    )
    return or_(
        and_(
            outbox.c.status == "pending",
            outbox.c.next_attempt_at <= now,
            not_recent,
            fresh_has_had_its_kick,
        ),
        and_(outbox.c.status == "running", outbox.c.lease_until < now, not_recent),
    )


def relay(
    session: Session,
    send: Callable[[int, str], None],
    now: datetime | None = None,
    limit: int = 500,
) -> int:
    """Hand due rows to the broker (the beat task, every few seconds). Commits. Safe to run
    twice at once: a row handed out twice runs once (`run` claims it)."""
    now = now or utcnow()
    settings = _settings()
    query = (
        select(outbox.c.id, outbox.c.task)
        .where(due_filter(now, timedelta(seconds=settings.outbox_relay_again_seconds)))
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(limit)
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    rows = session.execute(query).all()
    if not rows:
        session.commit()
        return 0
    session.execute(
        update(outbox).where(outbox.c.id.in_([r.id for r in rows])).values(relayed_at=now)
    )
    session.commit()
    sent = kick(send, [(r.id, r.task) for r in rows])
    if sent < len(rows):  # the broker went away: let the next sweep try these at once
        session.execute(
            update(outbox)
            .where(outbox.c.id.in_([r.id for r in rows[sent:]]))
            .values(relayed_at=None)
        )
        session.commit()
    return sent


# --- running -------------------------------------------------------------------------------


def claim(session: Session, row_id: int, now: datetime | None = None) -> OutboxMessage | None:
    """Take a row to run it: pending and due, or running under a lapsed lease. None when it
    is done, failed, not due yet, or someone else holds it. Commits."""
    now = now or utcnow()
    settings = _settings()
    session.commit()
    taken = session.execute(
        update(outbox)
        .where(
            outbox.c.id == row_id,
            or_(
                and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now),
                and_(outbox.c.status == "running", outbox.c.lease_until < now),
            ),
        )
        .values(
            status="running",
            attempts=outbox.c.attempts + 1,
            lease_until=now + timedelta(seconds=settings.outbox_lease_seconds),
        )
    )
    session.commit()
    if taken.rowcount != 1:
        return None
    return session.get(OutboxMessage, row_id, populate_existing=True)


def backoff(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: doubling from the first wait, capped."""
    settings = _settings()
    return min(
        settings.outbox_retry_max_backoff,
        settings.outbox_retry_backoff * 2 ** max(0, attempts - 1),
    )


def _finish(session: Session, row_id: int, status: str, error: str = "") -> None:
    def work():
        session.rollback()
        row = session.get(OutboxMessage, row_id, populate_existing=True)
        if row is None or row.status != "running":
            session.rollback()
            return
        row.status = status
        row.finished_at = utcnow()
        row.lease_until = None
        row.last_error = redact_addresses(error)[:2000]
        hooks = _SENT_HOOKS if status == "done" else _FAILED_HOOKS
        # "*": hooks for every email (the staff notice about failed mail).
        for hook in (*hooks.get(row.email or "", ()), *hooks.get("*", ())):
            hook(session, row)
        session.commit()

    # The message may already be with the server: wait out a database restart rather than
    # leave the row to be sent again.
    retry_database(work, on_disconnect=session.rollback)


def _reschedule(session: Session, row_id: int, error: str) -> str:
    """After a temporary failure: pending again with backoff, or failed once the retry
    window is over. Returns the new status."""
    session.rollback()
    row = session.get(OutboxMessage, row_id, populate_existing=True)
    if row is None or row.status != "running":
        session.rollback()
        return "gone"
    now = utcnow()
    wait = timedelta(seconds=backoff(row.attempts))
    window = timedelta(hours=_settings().outbox_retry_hours)
    if now + wait > row.created_at + window:
        session.rollback()
        _finish(session, row_id, "failed", error)
        return "failed"
    row.status = "pending"
    row.next_attempt_at = now + wait
    row.lease_until = None
    row.relayed_at = None
    row.last_error = redact_addresses(error)[:2000]
    session.commit()
    return "pending"


def run(session: Session, row_id: int, work: Callable[..., object]) -> object | None:
    """Run outbox row `row_id` with `work(*args, **kwargs)` unless it is done or taken.

    `work` owns its own commits. Its PermanentFailure fails the row at once; any other error
    (a TemporaryFailure, a database or broker hiccup, a bug) puts it back to pending with
    backoff, and it fails only when the retry window is over. Returns what `work` returned,
    or None.
    """
    row = claim(session, row_id)
    if row is None:
        log.info("outbox row %s: done or taken already; nothing to do", row_id)
        return None
    args, kwargs, task = list(row.args or []), dict(row.kwargs or {}), row.task
    try:
        result = work(*args, **kwargs)
    except PermanentFailure as exc:
        log.warning("outbox row %s (%s) refused for good: %s", row_id, task, _short(exc))
        error = str(exc)
        _safely(session, lambda: _finish(session, row_id, "failed", error))
        return None
    except Exception as exc:  # noqa: BLE001 (recorded on the row and retried, never lost)
        if is_disconnect(exc) or isinstance(exc, TemporaryFailure):
            log.warning("outbox row %s (%s) will be retried: %s", row_id, task, _short(exc))
        else:
            log.exception("outbox row %s (%s) failed; it will be retried", row_id, task)
        error = _short(exc)
        status = _safely(session, lambda: _reschedule(session, row_id, error))
        log.info("outbox row %s is now %s", row_id, status)
        return None
    _finish(session, row_id, "done", "")
    return result


def _short(exc: BaseException) -> str:
    return redact_addresses(f"{type(exc).__name__}: {exc}")[:2000]


def _safely(session: Session, step: Callable[[], str | None]) -> str | None:
    """Record an outcome; if the database is down the row keeps its lease, and the relay
    hands it out again once the lease lapses."""
    try:
        return step()
    except DBAPIError as exc:
        log.warning("could not record the outcome (%s); the lease will lapse", exc.orig)
        session.rollback()
        return "unrecorded"


# --- what staff see, and housekeeping ------------------------------------------------------


def failed_mail(session: Session, limit: int = 200) -> list[OutboxMessage]:
    """Email that will not be sent, newest first, with the last error (addresses masked)."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "failed", OutboxMessage.email.is_not(None))
            .order_by(OutboxMessage.finished_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def retry_failed(session: Session, row_id: int, now: datetime | None = None) -> bool:
    """A failed row back to pending with a fresh retry window; relayed after the caller
    commits. False if it is not failed (any more)."""
    now = now or utcnow()
    row = session.get(OutboxMessage, row_id)
    if row is None or row.status != "failed":
        return False
    row.status = "pending"
    row.attempts = 0
    row.created_at = row.next_attempt_at = now
    row.finished_at = row.lease_until = row.relayed_at = None
    session.flush()
    session.info.setdefault(NEW_ROWS_KEY, []).append((row.id, row.task))
    return True


def counts(session: Session) -> dict[str, int]:
    """Rows by status, for the admin page."""
    by_status = dict(
        session.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status)).all()
    )
    return {status: by_status.get(status, 0) for status in ("pending", "running", "failed")}


def purge(session: Session, now: datetime | None = None, keep_days: int = 7) -> int:
    """Delete rows done more than `keep_days` ago, and failed ones after 30 days. They hold
    addresses: nothing is kept longer than it helps someone. The caller commits."""
    now = now or utcnow()
    result = session.execute(
        delete(outbox).where(
            or_(
                and_(outbox.c.status == "done", outbox.c.finished_at < now - timedelta(keep_days)),
                and_(outbox.c.status == "failed", outbox.c.finished_at < now - timedelta(30)),
            )
        )
    )
    return result.rowcount or 0


def forget_recipient(session: Session, address: str) -> int:
    """Erasure: drop every row that names `address` and is not running. The caller commits."""
    result = session.execute(
        delete(outbox).where(outbox.c.recipient == address, outbox.c.status != "running")
    )
    return result.rowcount or 0
