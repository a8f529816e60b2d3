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
