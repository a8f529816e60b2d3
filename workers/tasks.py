"""Celery tasks: each takes JSON values and calls a domain function inside the app context.

Task names are explicit: engage enqueues them by name (`engage.queue.enqueue`, an outbox row)
without importing this module. A task relayed from the outbox gets its arguments from the row
and runs once per row (`engage.queue.FlaskTask`); its temporary failures are retried by the
outbox, with backoff, for hours, so none of these tasks retries itself.
"""

from __future__ import annotations

from celery import shared_task
from celery.utils.log import get_task_logger
from sqlalchemy import text

from engage.community import digest_sending
from engage.extensions import db
from engage.mail.errors import PermanentFailure
from engage.mail.message import mask_address
from engage.mail.service import queue_email, send_transactional
from engage.newsletters import sending as newsletter_sending
from engage.queue import relay_sender
from engage.sending import bounces, outbox, verp
from engage.sending import notices as failed_mail_notices  # registers its after_failed hook
from engage.sending.pipeline import workers_for
from engage.subscriptions import service as subscriptions

log = get_task_logger(__name__)


@shared_task(name="engage.send_email", acks_late=True, outbox_id_kwarg="outbox_id")
def send_email(
    name: str, to: str, context: dict, headers: dict | None = None, outbox_id: int | None = None
) -> str:
    """Render and send one email; returns the server's reply.

    `outbox_id` (given by the outbox when it runs the row) names the message in its VERP
    envelope sender. TemporaryFailure propagates: the outbox tries again later. A 5xx is a
    bounce (the rule in engage/sending/bounces.py decides what it means for the reader) and is
    raised, so the outbox row ends `failed` with the server's reply.
    """
    try:
        reply = send_transactional(name, to, context, headers, outbox_id=outbox_id)
    except PermanentFailure as exc:
        log.warning("email %s to %s refused permanently: %s", name, mask_address(to), exc.code)
        token = verp.VerpToken(verp.OUTBOX, outbox_id) if outbox_id else None
        bounces.apply(db.session, bounces.smtp_refusal(to, exc.code, exc.text or str(exc), token))
        db.session.commit()
        raise
    log.info("email %s to %s accepted: %s", name, mask_address(to), reply)
    return reply


@shared_task(name="engage.bounces.poll", acks_late=True)
def bounces_poll() -> dict:
    """Read the bounce mailbox, apply what is in it and remove it (beat, every
    BOUNCE_POLL_SECONDS, when BOUNCE_MAILBOX_URL is set). A mailbox that cannot be reached is
    logged and read at the next beat; the messages wait there."""
    from flask import current_app

    from engage.sending import bounce_mailbox

    settings = current_app.config["ENGAGE"]
    if not settings.bounce_mailbox_url:
        return {}
    try:
        result = bounce_mailbox.poll(
            db.session, settings.bounce_mailbox_url, move_to=settings.bounce_mailbox_move_to
        )
    except bounce_mailbox.MailboxError as exc:
        log.warning("bounce mailbox not read (tried again next time): %s", exc)
        return {"error": str(exc)}
    if result.fetched:
        log.info(
            "bounce mailbox: %d message(s), %d report(s), %d recorded, %d unreadable",
            result.fetched,
            result.reports,
            result.applied,
            result.unreadable,
        )
    return result.__dict__


@shared_task(name="engage.heartbeat", acks_late=True)
def heartbeat() -> None:
    """Prove the worker, the broker and the database are alive (scheduled by beat)."""
    db.session.execute(text("SELECT 1")).scalar_one()
    log.info("heartbeat: database reachable")


@shared_task(name="engage.subscriptions.housekeeping", acks_late=True)
def subscriptions_housekeeping() -> int:
    """Purge sign-ups left unconfirmed for 7 days, in bounded batches (scheduled by beat)."""
    removed = 0
    for _ in range(20):
        batch = subscriptions.purge_unconfirmed(db.session)
        db.session.commit()
        removed += batch
        if batch == 0:
            break
    if removed:
        log.info("purged %d unconfirmed sign-ups", removed)
    return removed


@shared_task(name="engage.stats.rollup", acks_late=True)
def stats_rollup() -> list[str]:
    """Recompute today's and yesterday's dashboard figures (beat, every few minutes).

    Idempotent: it rewrites two rows from the subscriber and bounce rows, so a rerun or two
    beats at once write the same numbers.
    """
    from engage.stats import rollup

    days = rollup.rollup(db.session)
    db.session.commit()
    return [day.isoformat() for day in days]


@shared_task(name="engage.subscriptions.run_import", acks_late=True)
def subscriptions_run_import(job_id: int) -> None:
    """Import a large subscriber list in committed batches, with progress (idempotent: a
    rerun goes on from the job's cursor). Enqueued through the outbox, which retries it."""
    from engage.subscriptions import importing

    importing.run_import_job(db.session, job_id, checkpoint=db.session.commit)


def _queue_of(task) -> str | None:
    # Follow-up tasks go to the queue this task came from: a deployment that gives bulk mail
    # its own queue (and workers) keeps the whole send there.
    return (task.request.delivery_info or {}).get("routing_key") or None


def _fan_out(task, name: str, plan: list[tuple[int, int]]) -> None:
    queue = _queue_of(task)
    for parent_id, count in plan:
        for _ in range(count):
            task.app.send_task(name, args=[parent_id], queue=queue)


@shared_task(name="engage.outbox.relay", bind=True, acks_late=True)
def outbox_relay(self) -> int:
    """Hand due outbox rows to the broker (scheduled by beat every few seconds)."""
    sent = outbox.relay(db.session, relay_sender(self.app, _queue_of(self)))
    if sent:
        log.info("outbox: relayed %d row(s)", sent)
    return sent


@shared_task(name="engage.outbox.housekeeping", acks_late=True)
def outbox_housekeeping() -> int:
    """Forget outbox rows done a week ago (failed ones after 30 days); hourly, from beat."""
    removed = outbox.purge(db.session)
    db.session.commit()
    return removed


@shared_task(name="engage.newsletters.tick", bind=True, acks_late=True)
def newsletters_tick(self) -> dict:
    """Start due newsletters, release dead workers' rows, finish completed sends and digest
    editions, and send batch tasks where nobody works on due rows (beat, every few seconds)."""
    plan = newsletter_sending.tick(db.session)
    digests = digest_sending.tick(db.session)
    db.session.commit()
    _fan_out(self, "engage.newsletters.send_batch", plan.dispatch)
    _fan_out(self, "engage.digests.send_batch", digests.dispatch)
    if plan.started or plan.missed or plan.finished or plan.released:
        log.info(
            "newsletters: started %s, missed %s, finished %s, %d rows released",
            plan.started,
            plan.missed,
            plan.finished,
            plan.released,
        )
    return {"started": plan.started, "missed": plan.missed, "finished": plan.finished}


def _log_batch(label: str, result) -> None:
    log.info(
        "%s batch %s: %d sent, %d failed, %d deferred, %d skipped",
        label,
        result.outcome,
        result.sent,
        result.failed,
        result.deferred,
        result.skipped,
    )


@shared_task(name="engage.newsletters.send_batch", bind=True, acks_late=True)
def newsletters_send_batch(self, newsletter_id: int) -> dict:
    """Send a newsletter's due rows over one SMTP connection (engage/sending/pipeline.py)."""
    result = newsletter_sending.send_batch(db.session, newsletter_id)
    _log_batch(f"newsletter {newsletter_id}", result)
    if result.outcome == "budget":
        _fan_out(self, "engage.newsletters.send_batch", [(newsletter_id, 1)])
    return {"outcome": result.outcome, "sent": result.sent}


@shared_task(name="engage.newsletters.send_test", acks_late=True, outbox_id_kwarg="outbox_id")
def newsletters_send_test(newsletter_id: int, to: str, outbox_id: int | None = None) -> str | None:
    """Send one test copy of a newsletter to an editor's address (from the outbox, which
    retries temporary failures; `outbox_id` names it in the VERP envelope sender)."""
    reply = newsletter_sending.send_test_message(db.session, newsletter_id, to, outbox_id)
    log.info("test newsletter %s to %s: %s", newsletter_id, mask_address(to), reply)
    return reply


# --- Digests (engage/community/digests.py) ----------------------------------------------------


@shared_task(name="engage.digests.run", bind=True, acks_late=True)
def digests_run(self, frequency: str | None = None) -> dict:
    """Make the delivery rows of the readers due a digest now, in bounded batches, and send
    their batch tasks (scheduled by beat; both frequencies unless one is named). A run that
    stopped with readers still due sends itself again."""
    from engage.community import digests

    done = {}
    queue = _queue_of(self)
    for name in [frequency] if frequency else list(digests.FREQUENCIES):
        result = digests.run(db.session, name, dispatch=False)
        done[name] = {"edition_id": result.edition_id, "queued": result.queued}
        if result.queued:
            _fan_out(
                self, "engage.digests.send_batch", [(result.edition_id, workers_for(result.queued))]
            )
        if result.more:
            self.app.send_task("engage.digests.run", args=[name], queue=queue)
    return done


@shared_task(name="engage.digests.send_batch", bind=True, acks_late=True)
def digests_send_batch(self, edition_id: int) -> dict:
    """Send a digest edition's due rows over one SMTP connection (engage/sending/pipeline.py)."""
    result = digest_sending.send_batch(db.session, edition_id)
    _log_batch(f"digest edition {edition_id}", result)
    if result.outcome == "budget":
        _fan_out(self, "engage.digests.send_batch", [(edition_id, 1)])
    return {"outcome": result.outcome, "sent": result.sent}


# --- Replies (engage/comments) -------------------------------------------------------------


@shared_task(name="engage.comments.notify_moderators", acks_late=True)
def comments_notify_moderators(comment_id: int) -> int:
    """Email moderators about one reply that entered Pending or Needs care (idempotent)."""
    from engage.comments import emails as comment_emails

    sent = comment_emails.notify_moderators(db.session, comment_id)
    db.session.commit()
    return sent


@shared_task(name="engage.comments.moderation_digest", acks_late=True)
def comments_moderation_digest() -> int:
    """Every 15 minutes: one email per member of staff on batched (or daily, once a day)."""
    from engage.comments import emails as comment_emails

    included = comment_emails.moderation_digest(db.session)
    db.session.commit()
    return included


@shared_task(name="engage.comments.notify_reply", acks_late=True)
def comments_notify_reply(comment_id: int) -> bool:
    """Email the author of the reply an approved reply answers, if they opted in and confirmed.

    The email goes through the outbox like any other: retried for hours, failures shown."""
    from engage.comments import emails as comment_emails

    prepared = comment_emails.reply_notification(db.session, comment_id)
    if prepared is not None:
        to, context, headers = prepared
        queue_email("comment_reply", to, context, headers)
    db.session.commit()
    return prepared is not None


# --- Staff notices (engage/accounts/notifications.py) ---------------------------------------


def _staff_notices(kind: str, choices: set[str]) -> int:
    from engage.community import notices as submission_notices

    notify = {"submissions": submission_notices, "failed_mail": failed_mail_notices}[kind].notify
    return notify(db.session, choices)


@shared_task(name="engage.staff.notify_immediate", acks_late=True)
def staff_notify_immediate(kind: str) -> int:
    """Email the staff who chose `immediate` for `kind` what is new since their last notice."""
    sent = _staff_notices(kind, {"immediate"})
    db.session.commit()
    return sent


@shared_task(name="engage.staff.notify_batched", acks_late=True)
def staff_notify_batched() -> int:
    """Every 15 minutes: submissions and failed mail for staff on batched (daily: once a day)."""
    kinds = ("submissions", "failed_mail")
    sent = sum(_staff_notices(kind, {"batched", "daily"}) for kind in kinds)
    db.session.commit()
    return sent
