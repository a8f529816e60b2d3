"""Celery tasks: each takes JSON values and calls a domain function inside the app context.

Task names are explicit: engage enqueues them by name (`engage.queue.enqueue`) without
importing this module.
"""

from __future__ import annotations

from celery import shared_task
from celery.utils.log import get_task_logger
from sqlalchemy import text

from engage.extensions import db
from engage.mail.errors import PermanentFailure, TemporaryFailure
from engage.mail.message import mask_address
from engage.mail.service import send_transactional
from engage.newsletters import pipeline as newsletter_pipeline
from engage.subscriptions import service as subscriptions

log = get_task_logger(__name__)


@shared_task(
    name="engage.send_email",
    acks_late=True,
    autoretry_for=(TemporaryFailure,),
    retry_backoff=5,
    retry_backoff_max=600,  # stays far below the Redis visibility timeout (1 hour)
    retry_jitter=True,
    max_retries=8,
)
def send_email(name: str, to: str, context: dict, headers: dict | None = None) -> str | None:
    """Render and send one email; a 5xx reply is final and not retried."""
    try:
        reply = send_transactional(name, to, context, headers)
    except PermanentFailure as exc:
        log.warning("email %s to %s refused permanently: %s", name, mask_address(to), exc)
        if subscriptions.note_hard_bounce(db.session, to):
            log.warning("%s suppressed after repeated hard bounces", mask_address(to))
        db.session.commit()
        return None
    log.info("email %s to %s accepted: %s", name, mask_address(to), reply)
    return reply


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


def _fan_out(task, name: str, plan: list[tuple[int, int]]) -> None:
    # Follow-up tasks go to the queue this task came from: a deployment that gives bulk mail
    # its own queue (and workers) keeps the whole send there.
    queue = (task.request.delivery_info or {}).get("routing_key") or None
    for newsletter_id, count in plan:
        for _ in range(count):
            task.app.send_task(name, args=[newsletter_id], queue=queue)


@shared_task(name="engage.newsletters.tick", bind=True, acks_late=True)
def newsletters_tick(self) -> dict:
    """Start due newsletters, release dead workers' rows, finish completed sends, and send
    batch tasks where nobody works on pending rows (scheduled by beat every few seconds)."""
    plan = newsletter_pipeline.tick(db.session)
    db.session.commit()
    _fan_out(self, "engage.newsletters.send_batch", plan.dispatch)
    _fan_out(self, "engage.digests.send_batch", plan.digest_dispatch)
    if plan.started or plan.missed or plan.finished or plan.released:
        log.info(
            "newsletters: started %s, missed %s, finished %s, %d rows released",
            plan.started,
            plan.missed,
            plan.finished,
            plan.released,
        )
    return {"started": plan.started, "missed": plan.missed, "finished": plan.finished}


@shared_task(name="engage.newsletters.send_batch", bind=True, acks_late=True)
def newsletters_send_batch(self, newsletter_id: int) -> dict:
    """Send a newsletter's pending rows over one SMTP connection (see pipeline.send_batch)."""
    result = newsletter_pipeline.send_batch(db.session, newsletter_id)
    log.info(
        "newsletter %s batch %s: %d sent, %d failed, %d skipped",
        newsletter_id,
        result.outcome,
        result.sent,
        result.failed,
        result.skipped,
    )
    if result.outcome == "budget":
        _fan_out(self, "engage.newsletters.send_batch", [(newsletter_id, 1)])
    return {"outcome": result.outcome, "sent": result.sent}


@shared_task(
    name="engage.newsletters.send_test",
    acks_late=True,
    autoretry_for=(TemporaryFailure,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def newsletters_send_test(newsletter_id: int, to: str) -> str | None:
    """Send one test copy of a newsletter to an editor's address."""
    try:
        reply = newsletter_pipeline.send_test_message(db.session, newsletter_id, to)
    except PermanentFailure as exc:
        log.warning("test newsletter to %s refused: %s", mask_address(to), exc)
        return None
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
    queue = (self.request.delivery_info or {}).get("routing_key") or None
    for name in [frequency] if frequency else list(digests.FREQUENCIES):
        result = digests.run(db.session, name, dispatch=False)
        done[name] = {"edition_id": result.edition_id, "queued": result.queued}
        if result.queued:
            workers = newsletter_pipeline.workers_for(result.queued)
            _fan_out(self, "engage.digests.send_batch", [(result.edition_id, workers)])
        if result.more:
            self.app.send_task("engage.digests.run", args=[name], queue=queue)
    return done


@shared_task(name="engage.digests.send_batch", bind=True, acks_late=True)
def digests_send_batch(self, edition_id: int) -> dict:
    """Send a digest edition's pending rows over one SMTP connection (pipeline.send_batch)."""
    result = newsletter_pipeline.send_digest_batch(db.session, edition_id)
    log.info(
        "digest edition %s batch %s: %d sent, %d failed, %d skipped",
        edition_id,
        result.outcome,
        result.sent,
        result.failed,
        result.skipped,
    )
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
    """Every 15 minutes when MODERATOR_NOTIFY=batched: one email for the replies waiting."""
    from flask import current_app

    from engage.comments import emails as comment_emails

    if current_app.config["ENGAGE"].moderator_notify != "batched":
        return 0
    included = comment_emails.moderation_digest(db.session)
    db.session.commit()
    return included


@shared_task(
    name="engage.comments.notify_reply",
    acks_late=True,
    autoretry_for=(TemporaryFailure,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def comments_notify_reply(comment_id: int) -> bool:
    """Email the author of the reply an approved reply answers, if they opted in and confirmed.

    Sent from this task (no second hop through the queue); a 4xx retries the task.
    """
    from engage.comments import emails as comment_emails

    prepared = comment_emails.reply_notification(db.session, comment_id)
    db.session.commit()
    if prepared is None:
        return False
    to, context, headers = prepared
    try:
        reply = send_transactional("comment_reply", to, context, headers)
    except PermanentFailure as exc:
        log.warning("reply notification to %s refused permanently: %s", mask_address(to), exc)
        return False
    log.info("reply notification to %s accepted: %s", mask_address(to), reply)
    return True
