"""The one seam between the domain and Celery.

The domain never imports `workers`: it names a task and `enqueue` sends it once the current
database transaction has committed, so a worker never looks for a row that is not there yet and
a rolled-back action sends nothing. The Celery app itself lives in `app.extensions["celery"]`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from celery import Celery, Task
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from engage.extensions import db

_PENDING_KEY = "engage.enqueue_after_commit"

# Periodic work: each entry runs a task that selects what is due, so a rerun changes nothing.
BEAT_SCHEDULE: dict[str, dict] = {
    "heartbeat": {"task": "engage.heartbeat", "schedule": timedelta(minutes=1)},
    # Starts due newsletters, recovers sends from dead workers, finishes completed ones.
    "newsletters-tick": {"task": "engage.newsletters.tick", "schedule": timedelta(seconds=5)},
    "subscriptions-housekeeping": {
        "task": "engage.subscriptions.housekeeping",
        "schedule": timedelta(hours=1),
    },
    # Digests: finds readers whose local send hour has passed; runs often so each reader gets
    # theirs soon after that hour, whatever their time zone.
    "digests-run": {"task": "engage.digests.run", "schedule": timedelta(minutes=10)},
    "comments-moderation-digest": {
        "task": "engage.comments.moderation_digest",
        "schedule": timedelta(minutes=15),
    },
}


def broker_options(broker_url: str, instance_path: str) -> dict:
    """Transport options; the filesystem broker keeps its queue under `instance/broker`."""
    if not broker_url.startswith("filesystem://"):
        return {"visibility_timeout": 3600}
    folder = Path(instance_path) / "broker"
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        "control_folder": str(folder / "control"),
    }


def init_celery(app: Flask) -> Celery:
    """Create the Celery app bound to `app`: every task runs inside an app context."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    settings = app.config["ENGAGE"]
    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=settings.broker_url,
        broker_transport_options=broker_options(settings.broker_url, settings.instance_path),
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        beat_schedule=BEAT_SCHEDULE,
        timezone="UTC",
        include=["workers.tasks"],
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


def enqueue(task_name: str, *args, **kwargs) -> None:
    """Send `task_name(*args, **kwargs)` to the broker after the current transaction commits.

    Arguments must be JSON values (ids, not objects). Outside a transaction with pending work
    the task is still only sent at the next commit; a rollback discards it.
    """
    session = db.session()
    if session.get_transaction() is None:
        # Begin now, so a rollback before any database work still discards the task.
        session.begin()
    session.info.setdefault(_PENDING_KEY, []).append((task_name, args, kwargs))


def _send(celery: Celery, pending: list) -> None:
    for task_name, args, kwargs in pending:
        celery.send_task(task_name, args=list(args), kwargs=kwargs)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if pending:
        _send(current_app.extensions["celery"], pending)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # only an outermost rollback discards the work
        session.info.pop(_PENDING_KEY, None)
