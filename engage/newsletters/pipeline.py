"""The send pipeline: due newsletters start, their audience is snapshotted into delivery rows,
and batch workers claim rows, send them over one SMTP connection and mark each one.

The database says what is done, so every step can run twice, late, or in parallel:
- `tick` (every few seconds, from beat) starts due newsletters under a row lock, marks those
  found more than an hour late `missed`, releases claims whose lease ran out (a killed
  worker's), finishes sends with nothing left and says which sends need batch workers.
- `send_batch` holds one SMTP connection slot and claims rows (FOR UPDATE SKIP LOCKED on
  PostgreSQL; a single UPDATE under SQLite's write lock) until none are left. Each row is
  committed `sent` right after the server accepted its message, so a crash repeats at most the
  message in flight.

Digest editions (engage/community/digests.py) go through the same claiming and sending: their
rows carry `digest_edition_id` instead of `newsletter_id`, and each row's message comes from
the render it points to (`_DigestSend`); `tick` also finishes editions and dispatches their
batch tasks.

These functions commit (they are the task side of the domain); the tasks in workers/tasks.py
only load ids and send the follow-up tasks the returned plans name.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Engine, func, literal, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from engage.community.models import DigestEdition, DigestRender
from engage.mail.errors import PermanentFailure, TemporaryFailure
from engage.mail.message import build_message, mask_address, message_id_domain
from engage.mail.render import PREFERENCES_URL, UNSUBSCRIBE_URL, Rendered, personalise
from engage.mail.service import smtp_settings
from engage.mail.transport import SmtpTransport, send_with_retry
from engage.newsletters.mime import MessageTemplate, signer_from_settings
from engage.newsletters.models import Delivery, Newsletter
from engage.newsletters.render import NewsletterRenderError, render_newsletter
from engage.newsletters.service import audience_query, newsletter_topic_ids
from engage.newsletters.throttle import connection_slots, rate_limiter
from engage.subscriptions.emails import (
    digest_unsubscribe_url,
    list_headers,
    preferences_url,
    unsubscribe_url,
)
from engage.subscriptions.models import Subscriber
from engage.subscriptions.service import record_hard_bounce
from engage.types import opaque_id, utcnow
from engage.urls import external_url

log = logging.getLogger(__name__)

MISSED_AFTER = timedelta(hours=1)
MAX_BACKOFF = 60.0
BATCH_TIME_BUDGET = 300.0  # a batch task hands over to a fresh one well inside the visibility
# timeout of the Redis broker (1 hour), so a long send is never redelivered mid-way
deliveries = Delivery.__table__
newsletters = Newsletter.__table__
editions = DigestEdition.__table__
renders = DigestRender.__table__


@dataclass
class Plan:
    """What `tick` did and which batch tasks to send: (newsletter id, how many)."""

    started: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    released: int = 0
    dispatch: list[tuple[int, int]] = field(default_factory=list)
    # Digest editions: finished, and (edition id, how many batch tasks) to send.
    digests_finished: list[int] = field(default_factory=list)
    digest_dispatch: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class BatchResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    outcome: str = "done"  # done | busy | stopped | paused | budget


def _settings():
    return current_app.config["ENGAGE"]


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def workers_for(total: int) -> int:
    """How many batch tasks a send of `total` messages gets."""
    settings = _settings()
    return max(1, min(settings.smtp_max_connections, math.ceil(total / settings.send_batch_size)))


# --- starting ------------------------------------------------------------------------------


def snapshot_audience(session: Session, newsletter_id: int, now: datetime) -> int:
    """Insert one pending delivery row per reader of the newsletter's topics, in one
    INSERT … SELECT. Readers who already have a row keep it. Returns how many were added."""
    audience = audience_query(newsletter_topic_ids(newsletter_id)).where(
        ~select(deliveries.c.id)
        .where(
            deliveries.c.newsletter_id == newsletter_id,
            deliveries.c.subscriber_id == Subscriber.id,
        )
        .exists()
    )
    rows = audience.with_only_columns(
        literal(newsletter_id).label("newsletter_id"),
        Subscriber.id,
        literal("pending").label("status"),
        literal(0).label("attempts"),
        literal("").label("smtp_reply"),
        literal(now, Delivery.created_at.type).label("created_at"),
    )

    def count() -> int:
        return session.scalar(
            select(func.count()).where(deliveries.c.newsletter_id == newsletter_id)
        )

    before = count()  # rowcount of INSERT … SELECT is not reported by every driver
    session.execute(
        deliveries.insert().from_select(
            ["newsletter_id", "subscriber_id", "status", "attempts", "smtp_reply", "created_at"],
            rows,
        )
    )
    return count() - before


def start(session: Session, newsletter_id: int, now: datetime | None = None) -> int | None:
    """Move a scheduled newsletter to sending: render once, snapshot the audience.

    Returns the number of delivery rows, or None when the newsletter was not scheduled
    (another tick started it, or an editor changed it). A body that no longer renders pauses
    the send with the error as the reason. The caller commits.
    """
    now = now or utcnow()
    claimed = session.execute(
        update(newsletters)
        .where(newsletters.c.id == newsletter_id, newsletters.c.status == "scheduled")
        .values(status="sending", started_at=now, paused_reason="")
    )
    if claimed.rowcount != 1:
        return None
    newsletter = session.get(Newsletter, newsletter_id)
    session.refresh(newsletter)
    try:
        rendered = render_newsletter(
            newsletter.subject,
            newsletter.preheader,
            newsletter.body_markdown,
            newsletter.body_mjml,
        )
    except NewsletterRenderError as exc:
        newsletter.status = "paused"
        newsletter.paused_reason = f"The newsletter could not be rendered: {exc}"[:500]
        session.flush()
        return 0
    newsletter.rendered_html = rendered.html
    newsletter.rendered_text = rendered.text
    session.flush()
    total = snapshot_audience(session, newsletter_id, now)
    log.info("newsletter %s: sending to %d readers", newsletter_id, total)
    return total


def start_due(session: Session, now: datetime | None = None, limit: int = 20) -> Plan:
    """Start the scheduled newsletters that are due, under a row lock; mark `missed` the ones
    found more than an hour late (the scheduler was down): an editor decides about those."""
    now = now or utcnow()
    plan = Plan()
    query = (
        select(Newsletter.id, Newsletter.scheduled_at)
        .where(Newsletter.status == "scheduled", Newsletter.scheduled_at <= now)
        .order_by(Newsletter.scheduled_at)
        .limit(limit)
    )
    if _postgres(session):
        query = query.with_for_update(skip_locked=True)
    for newsletter_id, scheduled_at in session.execute(query).all():
        if scheduled_at < now - MISSED_AFTER:
            session.execute(
                update(newsletters)
                .where(newsletters.c.id == newsletter_id, newsletters.c.status == "scheduled")
                .values(status="missed")
            )
            plan.missed.append(newsletter_id)
            log.warning("newsletter %s missed its send time %s", newsletter_id, scheduled_at)
            continue
        total = start(session, newsletter_id, now)
        if total is not None:
            plan.started.append(newsletter_id)
            if total:
                plan.dispatch.append((newsletter_id, workers_for(total)))
    return plan


# --- housekeeping --------------------------------------------------------------------------


def release_expired_leases(
    session: Session,
    newsletter_id: int | None = None,
    now: datetime | None = None,
    *,
    digest_edition_id: int | None = None,
) -> int:
    """Put claimed rows whose lease ran out (their worker died) back to pending: one
    newsletter's or one digest edition's, or (neither given) everyone's."""
    now = now or utcnow()
    query = update(deliveries).where(
        deliveries.c.status == "claimed",
        deliveries.c.lease_until < now,
    )
    if newsletter_id is not None:
        query = query.where(deliveries.c.newsletter_id == newsletter_id)
    if digest_edition_id is not None:
        query = query.where(deliveries.c.digest_edition_id == digest_edition_id)
    result = session.execute(query.values(status="pending", claim_token=None, lease_until=None))
    return result.rowcount or 0


def finish_if_done(session: Session, newsletter_id: int, now: datetime | None = None) -> bool:
    """Mark a sending newsletter `sent` once no row is pending or claimed. True if it was."""
    left = session.scalar(
        select(func.count()).where(
            deliveries.c.newsletter_id == newsletter_id,
            deliveries.c.status.in_(("pending", "claimed")),
        )
    )
    if left:
        return False
    result = session.execute(
        update(newsletters)
        .where(newsletters.c.id == newsletter_id, newsletters.c.status == "sending")
        .values(status="sent", finished_at=now or utcnow())
    )
    return result.rowcount == 1


def finish_digest_if_done(session: Session, edition_id: int, now: datetime | None = None) -> bool:
    """Stamp a digest edition `finished_at` once no row is pending or claimed."""
    left = session.scalar(
        select(func.count()).where(
            deliveries.c.digest_edition_id == edition_id,
            deliveries.c.status.in_(("pending", "claimed")),
        )
    )
    if left:
        return False
    result = session.execute(
        update(editions)
        .where(editions.c.id == edition_id, editions.c.finished_at.is_(None))
        .values(finished_at=now or utcnow())
    )
    return result.rowcount == 1


def _open_rows(session: Session, which) -> tuple[int, int]:
    """(pending, claimed) delivery rows among those matching `which`."""
    rows = dict(
        session.execute(
            select(deliveries.c.status, func.count())
            .where(which, deliveries.c.status.in_(("pending", "claimed")))
            .group_by(deliveries.c.status)
        ).all()
    )
    return rows.get("pending", 0), rows.get("claimed", 0)


def _tick_digests(session: Session, plan: Plan, now: datetime) -> None:
    """Finish digest editions with nothing left; dispatch batches where nobody works."""
    open_editions = session.scalars(
        select(DigestEdition.id).where(DigestEdition.finished_at.is_(None))
    ).all()
    for edition_id in open_editions:
        pending, claimed = _open_rows(session, deliveries.c.digest_edition_id == edition_id)
        if not pending and not claimed:
            if finish_digest_if_done(session, edition_id, now):
                plan.digests_finished.append(edition_id)
        elif pending and not claimed:
            plan.digest_dispatch.append((edition_id, workers_for(pending)))


def tick(session: Session, now: datetime | None = None) -> Plan:
    """The periodic step: start what is due, recover from dead workers, finish what is done,
    and plan batch tasks for sends that have rows nobody is working on. The caller commits."""
    now = now or utcnow()
    plan = start_due(session, now)
    plan.released = release_expired_leases(session, now=now)
    sending = session.scalars(
        select(Newsletter.id).where(
            Newsletter.status == "sending", Newsletter.id.not_in(plan.started or [0])
        )
    ).all()
    for newsletter_id in sending:
        pending, claimed = _open_rows(session, deliveries.c.newsletter_id == newsletter_id)
        if not pending and not claimed:
            if finish_if_done(session, newsletter_id, now):
                plan.finished.append(newsletter_id)
        elif pending and not claimed:
            # Nobody is working on it (the batch tasks were lost, or the send was resumed).
            plan.dispatch.append((newsletter_id, workers_for(pending)))
    _tick_digests(session, plan, now)
    return plan


# --- sending -------------------------------------------------------------------------------


def claim_batch(
    session: Session,
    newsletter_id: int | None,
    token: str,
    size: int,
    lease_seconds: float,
    *,
    digest_edition_id: int | None = None,
) -> list[int]:
    """Claim up to `size` pending rows of a newsletter (or, with `digest_edition_id` and
    newsletter_id None, of a digest edition) for the holder of `token`; returns their ids.
    Commits.

    PostgreSQL: FOR UPDATE SKIP LOCKED, so parallel workers take different rows. SQLite has no
    SKIP LOCKED; the single UPDATE … WHERE id IN (SELECT … LIMIT n) runs under its write lock.
    """
    session.commit()  # a fresh transaction whose first statement writes (SQLite's lock)
    parent = (
        deliveries.c.newsletter_id == newsletter_id
        if newsletter_id is not None
        else deliveries.c.digest_edition_id == digest_edition_id
    )
    pick = (
        select(deliveries.c.id)
        .where(parent, deliveries.c.status == "pending")
        .order_by(deliveries.c.id)
        .limit(size)
    )
    if _postgres(session):
        pick = pick.with_for_update(skip_locked=True)
    result = session.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(pick.scalar_subquery()))
        .values(
            status="claimed",
            claim_token=token,
            lease_until=utcnow() + timedelta(seconds=lease_seconds),
        )
        .returning(deliveries.c.id)
    )
    ids = sorted(result.scalars().all())
    session.commit()
    return ids


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


class _Runner:
    """Runs the per-message statements, each in a transaction of its own, committed at once.

    In a worker (a session bound to the engine) one connection is held for the whole batch:
    through the session, the pool would check a connection out, and ping it, for every
    transaction. On PostgreSQL it is in autocommit, one round trip per statement. Each write
    gets its own transaction also because on SQLite a write after a read in the same
    transaction fails at once ("database is locked") if someone committed in between.
    """

    def __init__(self, session: Session):
        self.session = session
        self.conn = None
        self.autocommit = False
        self.relaxed = False
        bind = session.get_bind()
        if isinstance(bind, Engine):
            conn = bind.connect()
            if bind.dialect.name == "postgresql":
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

    def run(self, statement, fetch: str = "rowcount"):
        """`fetch`: "rowcount" or "one" (the row, or None)."""
        if self.conn is None:
            self.session.commit()
            value = self._run(self.session.execute, statement, fetch)
            self.session.commit()
            return value
        if self.autocommit:
            return self._run(self.conn.execute, statement, fetch)
        with self.conn.begin():
            return self._run(self.conn.execute, statement, fetch)

    def close(self) -> None:
        if self.conn is not None:
            if self.relaxed:  # the connection goes back to the pool: restore the default
                try:
                    self.conn.exec_driver_sql("RESET synchronous_commit")
                except DBAPIError:
                    self.conn.invalidate()  # never hand a relaxed connection to anyone else
            self.conn.close()


def message_template(newsletter: Newsletter) -> MessageTemplate:
    """The newsletter's message, built once for the whole send from its stored rendering."""
    return _template(newsletter.subject, newsletter.rendered_html, newsletter.rendered_text)


def _template(subject: str, html: str | None, text: str | None) -> MessageTemplate:
    settings = _settings()
    rendered = Rendered(subject=" ".join(subject.split()), html=html or "", text=text or "")
    return MessageTemplate(
        rendered,
        sender=settings.mail_from,
        domain=message_id_domain(settings.mail_from, settings.base_url),
        signer=signer_from_settings(settings),
    )


_RECIPIENT = (
    deliveries.c.claim_token,
    Subscriber.id,
    Subscriber.status,
    Subscriber.email,
    Subscriber.unsubscribe_id,
    Subscriber.digest,
)


class _NewsletterSend:
    """What a batch needs to know about a newsletter: one message template for every row."""

    def __init__(self, newsletter: Newsletter):
        self.id = newsletter.id
        self.label = f"newsletter {newsletter.id}"
        self.template = message_template(newsletter)

    def claim(self, session, token, size, lease) -> list[int]:
        return claim_batch(session, self.id, token, size, lease)

    def row(self, delivery_id: int):
        return (
            select(*_RECIPIENT, newsletters.c.status.label("parent_status"))
            .select_from(deliveries)
            .join(newsletters, newsletters.c.id == deliveries.c.newsletter_id)
            .join(Subscriber, Subscriber.id == deliveries.c.subscriber_id)
            .where(deliveries.c.id == delivery_id)
        )

    def active(self, row) -> bool:
        return row.parent_status == "sending"  # not paused or cancelled by an editor

    def wanted(self, row) -> bool:
        return True

    def message_template(self, db: _Runner, row) -> MessageTemplate | None:
        return self.template

    def links(self, row) -> tuple[dict[str, str], dict[str, str]]:
        values = {UNSUBSCRIBE_URL: unsubscribe_url(row), PREFERENCES_URL: preferences_url(row)}
        return values, list_headers(row)

    def pause(self, db: _Runner, reason: str) -> str:
        db.run(
            update(newsletters)
            .where(newsletters.c.id == self.id, newsletters.c.status == "sending")
            .values(status="paused", paused_reason=reason[:500])
        )
        return "paused"

    def release_expired(self, session) -> int:
        return release_expired_leases(session, self.id)

    def finish(self, session) -> None:
        finish_if_done(session, self.id)


class _DigestSend:
    """What a batch needs to know about a digest edition: each row's message comes from the
    render it points to (a handful per edition, each built into a template once)."""

    def __init__(self, edition: DigestEdition):
        self.id = edition.id
        self.label = f"digest edition {edition.id}"
        self.templates: dict[int, MessageTemplate | None] = {}

    def claim(self, session, token, size, lease) -> list[int]:
        return claim_batch(session, None, token, size, lease, digest_edition_id=self.id)

    def row(self, delivery_id: int):
        return (
            select(*_RECIPIENT, deliveries.c.digest_render_id)
            .select_from(deliveries)
            .join(Subscriber, Subscriber.id == deliveries.c.subscriber_id)
            .where(deliveries.c.id == delivery_id)
        )

    def active(self, row) -> bool:
        return True

    def wanted(self, row) -> bool:
        return row.digest != "off"  # turned the digest off since the rows were made

    def message_template(self, db: _Runner, row) -> MessageTemplate | None:
        render_id = row.digest_render_id
        if render_id not in self.templates:
            found = db.run(
                select(renders.c.subject, renders.c.html, renders.c.text).where(
                    renders.c.id == render_id
                ),
                "one",
            )
            self.templates[render_id] = (
                None if found is None else _template(found.subject, found.html, found.text)
            )
        return self.templates[render_id]

    def links(self, row) -> tuple[dict[str, str], dict[str, str]]:
        url = digest_unsubscribe_url(row)
        values = {UNSUBSCRIBE_URL: url, PREFERENCES_URL: preferences_url(row)}
        return values, list_headers(row, digest=True)

    def pause(self, db: _Runner, reason: str) -> str:
        # A digest has no editor to resume it: the rows go back to pending and the periodic
        # tick sends a batch task for them again (a retry, a few seconds later).
        return "stopped"

    def release_expired(self, session) -> int:
        return release_expired_leases(session, digest_edition_id=self.id)

    def finish(self, session) -> None:
        finish_digest_if_done(session, self.id)


class _Batch:
    """One batch task's state: its claim token, its SMTP connection, its failure streak."""

    def __init__(self, session: Session, send: _NewsletterSend | _DigestSend, token: str, slots):
        settings = _settings()
        self.session = session
        self.db = _Runner(session)
        self.send = send
        self.token = token
        self.slots = slots
        self.limiter = rate_limiter(settings)
        self.lease = float(settings.send_lease_seconds)
        self.pause_after = settings.send_pause_after_failures
        self.backoff = settings.send_retry_backoff
        self.reconnect_after = settings.send_reconnect_after
        self.streak = 0
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
            if row.status != "confirmed" or not row.email or not self.send.wanted(row):
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

    def send_one(
        self, transport: SmtpTransport, delivery_id: int, row, template: MessageTemplate
    ) -> str | None:
        values, headers = self.send.links(row)
        message = template.build(row.email, values, headers)
        self.limiter.acquire()
        while True:
            try:
                reply = transport.send_raw(
                    message.sender,
                    [message.recipient],
                    message.raw,
                    international=message.international,
                )
            except PermanentFailure as exc:
                self.streak = 0
                text = f"{exc.code or ''} {exc.text or exc}".strip()
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
                    self.session.commit()
                    subscriber = self.session.get(Subscriber, row.id)
                    if subscriber is not None and record_hard_bounce(self.session, subscriber):
                        log.warning("%s suppressed after hard bounces", mask_address(row.email))
                    self.session.commit()
                return None
            except TemporaryFailure as exc:
                self.streak += 1
                self.db.run(
                    update(deliveries)
                    .where(deliveries.c.id == delivery_id)
                    .values(attempts=deliveries.c.attempts + 1, smtp_reply=str(exc)[:500])
                )
                if self.streak >= self.pause_after:
                    return self.pause(
                        f"Paused after {self.streak} failed attempts in a row to reach the "
                        f"mail server. Last error: {exc}"
                    )
                delay = min(MAX_BACKOFF, self.backoff * 2 ** (self.streak - 1))
                log.info("temporary failure (%s); retrying in %.2fs", exc, delay)
                time.sleep(delay)
                self.renew(force=delay > self.lease / 3)
                continue
            self.streak = 0
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


def send_batch(
    session: Session, newsletter_id: int, time_budget: float = BATCH_TIME_BUDGET
) -> BatchResult:
    """Send a newsletter's pending rows over one SMTP connection until none are left, the
    send is paused or cancelled, or `time_budget` seconds passed (outcome "budget": send
    another batch task). Commits after every message. Without a free connection slot it does
    nothing (outcome "busy"): the periodic task plans batches again if nobody works on them.
    """

    def load(session: Session):
        newsletter = session.get(Newsletter, newsletter_id)
        if newsletter is None or newsletter.status != "sending":
            return None
        return _NewsletterSend(newsletter)

    return _send_batches(session, load, time_budget)


def send_digest_batch(
    session: Session, edition_id: int, time_budget: float = BATCH_TIME_BUDGET
) -> BatchResult:
    """`send_batch` for a digest edition's rows (engage/community/digests.py makes them):
    each message from its row's render, with the digest-only unsubscribe link."""

    def load(session: Session):
        edition = session.get(DigestEdition, edition_id)
        return None if edition is None else _DigestSend(edition)

    return _send_batches(session, load, time_budget)


def _send_batches(session: Session, load, time_budget: float) -> BatchResult:
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
        with contextlib.closing(batch.db), SmtpTransport(smtp_settings()) as transport:
            while True:
                if time.monotonic() > deadline:
                    batch.result.outcome = "budget"
                    break
                ids = send.claim(session, token, settings.send_batch_size, batch.lease)
                if not ids:
                    if send.release_expired(session):
                        session.commit()
                        continue
                    send.finish(session)
                    session.commit()
                    break
                batch.renewed = time.monotonic()
                if batch.send_rows(transport, ids) is not None:
                    break
        return batch.result
    except BaseException:
        session.rollback()
        session.execute(_release_mine(token))  # someone else may take them at once
        session.commit()
        raise
    finally:
        slots.release(token)


# --- test messages -------------------------------------------------------------------------


def send_test_message(session: Session, newsletter_id: int, to: str) -> str | None:
    """Send the newsletter as it stands to `to`, "[Test]" in the subject, with links that work
    but belong to nobody (the sign-up page). Returns the server's reply, or None if the
    newsletter is gone. Raises TemporaryFailure (retry) or PermanentFailure."""
    newsletter = session.get(Newsletter, newsletter_id)
    if newsletter is None:
        return None
    settings = _settings()
    rendered = render_newsletter(
        newsletter.subject, newsletter.preheader, newsletter.body_markdown, newsletter.body_mjml
    )
    page = external_url("subscriptions.subscribe")
    rendered = Rendered(
        subject=f"[Test] {rendered.subject}", html=rendered.html, text=rendered.text
    )
    msg = build_message(
        personalise(rendered, {UNSUBSCRIBE_URL: page, PREFERENCES_URL: page}),
        to,
        sender=settings.mail_from,
        domain=message_id_domain(settings.mail_from, settings.base_url),
    )
    with SmtpTransport(smtp_settings()) as transport:
        return send_with_retry(transport, msg)
