"""Rows per second of `POST /api/v1/subscribers` with 1,000 rows, through the test client.

    .venv/bin/python benchmarks/import_api.py [--rows N] [--runs K] [--postgres [URL]]
                                              [--broker URL]

By default an SQLite database in a temporary folder; `--postgres` uses a database created
beside BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1/test) and dropped after.
The broker is the filesystem transport in the same folder (what `make run` uses), or
`--broker redis://…` (production's); queueing each confirmation email is part of the measured
request, as it is in production.

Each run imports N fresh rows shaped like a real list: 70% new double opt-in sign-ups, 15%
confirmed with consent evidence, 5% addresses already pending (updated), 5% already
confirmed without new evidence (rejected), 5% malformed (rejected). Prints, per run, the
time, the rows per second and the SQL statements the request ran, and how much of the time
went to handing messages to the broker (one Celery message per confirmation email, sent
after the commit by `engage.queue`), then the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event  # noqa: E402

from engage import create_app  # noqa: E402
from engage.accounts.service import create_api_key  # noqa: E402
from engage.extensions import db  # noqa: E402
from engage.scratch import create_scratch_database, drop_scratch_database  # noqa: E402
from engage.subscriptions import service  # noqa: E402
from engage.subscriptions.models import Topic  # noqa: E402

EVIDENCE = {
    "source": "https://old-list.example/signup",
    "text": "Yes, send me the newsletter and news about support groups.",
    "consented_at": "2025-05-01T09:30:00+02:00",
}


def seed(run: int, rows: int) -> list[dict]:
    """Known addresses for the update/reject rows, and the import body for one run."""
    body = []
    for n in range(rows):
        kind = n % 20
        email = f"run{run}-reader{n}@example.org"
        if kind < 14:
            body.append({"email": email, "topics": ["newsletter"], "digest": "weekly"})
        elif kind < 17:
            body.append({"email": email, "confirmed": True, "consent": EVIDENCE})
        elif kind == 17:
            service.sign_up(db.session, email, topics=None, digest="off", source="seed")
            body.append({"email": email, "topics": ["groups-news"]})
        elif kind == 18:
            seeded = service.sign_up(db.session, email, topics=None, digest="off", source="seed")
            service.confirm(db.session, seeded.subscriber.id, seeded.consent.id)
            body.append({"email": email, "topics": ["groups-news"]})
        else:
            body.append({"email": f"run{run}-not-an-address-{n}"})
    db.session.commit()
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1/test"),
        help="use PostgreSQL (a fresh database beside this URL)",
    )
    parser.add_argument("--broker", default="filesystem://", help="Celery broker URL")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory(prefix="engage-import-bench-")
    url = (
        create_scratch_database(args.postgres, "import_bench")
        if args.postgres
        else f"sqlite:///{Path(folder.name) / 'bench.db'}"
    )
    app = create_app(
        {
            "ENGAGE_ENV": "testing",
            "ENGAGE_INSTANCE_PATH": folder.name,
            "DATABASE_URL": url,
            "CELERY_BROKER_URL": args.broker,
            "SECRET_KEY": "benchmark-secret-key-that-is-long-enough",
            "BASE_URL": "https://engage.example",
            "API_RATE_LIMIT": "100000 per minute",
        }
    )
    try:
        with app.app_context():
            upgrade()
            db.session.add_all(
                [
                    Topic(slug="newsletter", name="The newsletter", is_default=True),
                    Topic(slug="groups-news", name="News about support groups"),
                ]
            )
            _, secret = create_api_key(db.session, "benchmark", "editor")
            db.session.commit()
            headers = {"Authorization": f"Bearer {secret}"}
            statements = [0]
            broker = {"seconds": 0.0, "messages": 0}
            celery = app.extensions["celery"]
            send_task = celery.send_task

            def timed_send_task(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return send_task(*args, **kwargs)
                finally:
                    broker["seconds"] += time.perf_counter() - started
                    broker["messages"] += 1

            celery.send_task = timed_send_task  # measured, not changed: the same method runs

            @event.listens_for(db.engine, "before_cursor_execute")
            def count(*_args):
                statements[0] += 1

            print(
                f"backend: {db.engine.dialect.name}; broker: {args.broker.split(':')[0]}; "
                f"{args.rows:,} rows per request"
            )
            client = app.test_client()
            rates, without_broker = [], []
            for run in range(args.runs):
                body = seed(run, args.rows)
                db.session.remove()
                statements[0] = 0
                broker.update(seconds=0.0, messages=0)
                started = time.perf_counter()
                response = client.post(
                    "/api/v1/subscribers", json={"subscribers": body}, headers=headers
                )
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise SystemExit(f"{response.status_code}: {response.get_data(as_text=True)}")
                answer = response.get_json()
                rates.append(args.rows / elapsed)
                without_broker.append(args.rows / max(elapsed - broker["seconds"], 1e-9))
                print(
                    f"run {run + 1}: {elapsed:6.2f}s  {rates[-1]:8.0f} rows/s  "
                    f"{statements[0]:6d} SQL statements  (created {answer['created']}, "
                    f"updated {answer['updated']}, rejected {len(answer['rejected'])}); "
                    f"{broker['seconds']:.2f}s of it sending {broker['messages']} broker messages"
                )
            print(
                f"median: {statistics.median(rates):.0f} rows/s; "
                f"{statistics.median(without_broker):.0f} rows/s without the broker messages"
            )
    finally:
        with app.app_context():
            db.engine.dispose()
            celery = app.extensions["celery"]
            with celery.connection_for_write() as conn:  # leave nothing queued on a shared broker
                conn.SimpleQueue(celery.conf.task_default_queue).clear()
        if args.postgres:
            drop_scratch_database(url)
        folder.cleanup()


if __name__ == "__main__":
    main()
