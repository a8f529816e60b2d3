"""The one seam between the domain and Celery: work is an outbox row, relayed after commit.

The domain never imports `workers`. `enqueue(task_name, *args)` writes an outbox row
(engage/sending/outbox.py) in the current transaction; once that transaction commits, the
row's id is handed to the broker (`_after_commit`), and the beat task `engage.outbox.relay`
sweeps up whatever the broker did not get (it was down, or lost its queue) or is due for another
attempt. A rolled-back action sends nothing; a broker that is down at commit delays the work,
never loses it. The worker runs a relayed row through `outbox.run` (see `FlaskTask`): once, by
its id, however often it is delivered.

The Celery app itself lives in `app.extensions["celery"]`.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path

from celery import Celery, Task
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from engage.extensions import db
from engage.sending import outbox


# Periodic work: each entry runs a task that selects what is due, so a rerun changes nothing.
def beat_schedule(settings) -> dict[str, dict]:
    """What beat runs: each entry's task selects what is due, so a rerun changes nothing."""
    bounces = {}
    if settings.bounce_mailbox_url:
        # The bounce mailbox: read, apply, remove (engage/sending/bounce_mailbox.py).
        bounces["bounces-poll"] = {
            "task": "engage.bounces.poll",
            "schedule": timedelta(seconds=settings.bounce_poll_seconds),
        }
    return {
        **BEAT_SCHEDULE,
        **bounces,
        # The outbox relay: new rows the kick after commit could not send, rows a restarted
        # broker lost, and rows due for another attempt.
        "outbox-relay": {
            "task": "engage.outbox.relay",
            "schedule": timedelta(seconds=settings.outbox_relay_seconds),
        },
    }


BEAT_SCHEDULE: dict[str, dict] = {
    "heartbeat": {"task": "engage.heartbeat", "schedule": timedelta(minutes=1)},
    "outbox-housekeeping": {"task": "engage.outbox.housekeeping", "schedule": timedelta(hours=1)},
    # Starts due newsletters, recovers sends from dead workers, finishes completed ones.
    "newsletters-tick": {"task": "engage.newsletters.tick", "schedule": timedelta(seconds=5)},
    "subscriptions-housekeeping": {
        "task": "engage.subscriptions.housekeeping",
        "schedule": timedelta(hours=1),
    },
    # Digests: finds readers whose local send hour has passed; runs often so each reader gets
    # theirs soon after that hour, whatever their time zone.
    "digests-run": {"task": "engage.digests.run", "schedule": timedelta(minutes=10)},
    # The dashboard's daily figures (engage/stats/rollup.py): today and yesterday, rewritten.
    "stats-rollup": {"task": "engage.stats.rollup", "schedule": timedelta(minutes=5)},
    "comments-moderation-digest": {
        "task": "engage.comments.moderation_digest",
        "schedule": timedelta(minutes=15),
    },
    # Staff notices on batched or daily (engage/accounts/notifications.py); held replies are
    # the moderation digest above.
    "staff-notices": {"task": "engage.staff.notify_batched", "schedule": timedelta(minutes=15)},
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
        # A task declared with `outbox_id_kwarg="outbox_id"` is told its outbox row's id in
        # that keyword (the send task makes its VERP bounce address from it).
        outbox_id_kwarg: str | None = None

        def __call__(self, *args, **kwargs):
            with app.app_context():
                row_id = kwargs.pop(outbox.OUTBOX_KWARG, None)
                if row_id is None:
                    return self.run(*args, **kwargs)
                # Relayed from the outbox: the arguments are on the row, which also says
                # whether this ran already.
                work = self.run
                if self.outbox_id_kwarg:
                    work = functools.partial(self.run, **{self.outbox_id_kwarg: int(row_id)})
                return outbox.run(db.session, int(row_id), work)

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
        beat_schedule=beat_schedule(settings),
        task_default_queue=settings.celery_queue,
        timezone="UTC",
        include=["workers.tasks"],
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


def enqueue(task_name: str, *args, **kwargs) -> None:
    """Run `task_name(*args, **kwargs)` in a worker once the current transaction commits.

    Writes an outbox row in the current transaction (flushing it); arguments must be JSON
    values (ids, not objects). A rollback discards it.
    """
    outbox.add(db.session(), task_name, args, kwargs)


def relay_sender(celery: Celery, queue: str | None = None):
    """`send(row_id, task)` for the outbox: a task message carrying only the row's id."""

    def send(row_id: int, task: str) -> None:
        celery.send_task(task, kwargs={outbox.OUTBOX_KWARG: row_id}, queue=queue, retry=False)

    return send


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    rows = outbox.take_new_rows(session)
    if rows:
        outbox.kick(relay_sender(current_app.extensions["celery"]), rows)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # only an outermost rollback discards the work
        outbox.forget_new_rows(session)
