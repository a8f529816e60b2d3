"""Run the tasks a test enqueued, in this process, from the real broker.

The messages go through the broker exactly as in production; only the consumer differs: the
test takes them off the default queue and runs each task's real code with `apply`. Tests
that need a real worker process use tests/support/worker.py instead.
"""

from __future__ import annotations

from flask import Flask

import workers.tasks  # noqa: F401  (registers the task names with the Celery app)


def purge(app: Flask) -> None:
    celery = app.extensions["celery"]
    with celery.connection_for_write() as conn:
        queue = conn.SimpleQueue(celery.conf.task_default_queue)
        queue.clear()
        queue.close()


def run_queued(app: Flask, limit: int = 100) -> list[str]:
    """Run what is on the default queue, oldest first; returns the task names run."""
    celery = app.extensions["celery"]
    ran: list[str] = []
    with celery.connection_for_read() as conn:
        queue = conn.SimpleQueue(celery.conf.task_default_queue)
        try:
            for _ in range(limit):
                try:
                    message = queue.get(block=True, timeout=0.1)
                except queue.Empty:
                    break
                name = message.headers["task"]
                args, kwargs, _embed = message.decode()
                message.ack()
                celery.tasks[name].apply(args=args, kwargs=kwargs, throw=True)
                ran.append(name)
        finally:
            queue.close()
    return ran
