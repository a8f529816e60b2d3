"""Building and enqueueing a whole round of digests: delivery rows and renders, no SMTP.

    .venv/bin/python benchmarks/digest.py [--readers N] [--listings M] [--postgres [URL]]

By default an SQLite database in a temporary folder; `--postgres` uses a database created
beside BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1/test) and dropped after.
Readers (default 50,000) have mixed frequencies (weekly, daily, off), time zones, interests
and last-digest marks; M (default 200) groups and events were approved over the last week.

Prints, for each frequency and in total: the time `digests.run` takes to find who is due,
build what is new for each, render each distinct content once and insert the delivery rows
(committed), the number of distinct renders, and the number of SQL statements (counted with a
`before_cursor_execute` listener): bounded by batches and renders, not by readers.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, func, insert, select  # noqa: E402

from engage import create_app  # noqa: E402
from engage.community import digests  # noqa: E402
from engage.community.models import Event, SupportGroup  # noqa: E402
from engage.community.purposes import PURPOSES  # noqa: E402
from engage.extensions import db  # noqa: E402
from engage.newsletters.models import Delivery  # noqa: E402
from engage.scratch import create_scratch_database, drop_scratch_database  # noqa: E402
from engage.subscriptions.models import Subscriber  # noqa: E402
from engage.subscriptions.service import address_hash  # noqa: E402
from engage.types import opaque_id, utcnow  # noqa: E402

ZONES = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
REGIONS = ["Yorkshire", "London", "Wales", "Scotland", "Kent", "Devon", "Bristol", "Leeds"]
SLUGS = [slug for slug, _ in PURPOSES]


def _postgres_database(url: str) -> str:
    return create_scratch_database(url, "digest_bench")


def _drop_postgres(url: str) -> None:
    drop_scratch_database(url)


def seed(readers: int, listings: int, rng: random.Random) -> None:
    now = utcnow()
    half = listings // 2
    groups = [
        {
            "slug": f"group-{i}",
            "name": f"Support group {i}",
            "description": "",
            "purposes": rng.sample(SLUGS, rng.choice((1, 2))),
            "format": rng.choice(("in_person", "in_person", "online", "hybrid")),
            "region": rng.choice(REGIONS),
            "city": "",
            "schedule": "Every other Tuesday, 19:00",
            "status": "approved",
            "approved_at": now - timedelta(hours=rng.randint(1, 24 * 7)),
            "created_at": now - timedelta(days=8),
        }
        for i in range(half)
    ]
    db.session.execute(insert(SupportGroup), groups)
    group_ids = db.session.scalars(select(SupportGroup.id)).all()
    events = []
    for i in range(listings - half):
        starts = now + timedelta(hours=rng.randint(2, 24 * 20))
        events.append(
            {
                "slug": f"event-{i}",
                "title": f"Event {i}",
                "description": "",
                "group_id": rng.choice(group_ids),
                "starts_at": starts,
                "ends_at": starts + timedelta(hours=2),
                "timezone": "Europe/London",
                "location": "Community centre",
                "online_url": "",
                "status": "approved",
                "approved_at": now - timedelta(hours=rng.randint(1, 24 * 7)),
                "created_at": now - timedelta(days=8),
            }
        )
    db.session.execute(insert(Event), events)
    interest_sets = [{}] * 4 + [
        {"purposes": rng.sample(SLUGS, rng.choice((1, 2, 3)))} for _ in range(12)
    ] + [{"regions": [r]} for r in REGIONS[:4]] + [
        {"purposes": [rng.choice(SLUGS)], "regions": [rng.choice(REGIONS)]} for _ in range(8)
    ]  # fmt: skip
    chunk = []
    for i in range(readers):
        address = f"reader-{i:06d}@example.org"
        frequency = rng.choices(("weekly", "daily", "off"), (5, 3, 2))[0]
        chunk.append(
            {
                "email": address,
                "email_hash": address_hash(address),
                "status": "confirmed",
                "digest": frequency,
                "timezone": rng.choice(ZONES),
                "interests": rng.choice(interest_sets),
                "unsubscribe_id": opaque_id(),
                "created_at": now - timedelta(days=30),
                "confirmed_at": now - timedelta(days=rng.randint(1, 30)),
                "confirmations_sent_today": 0,
                "hard_bounces": 0,
                # Never had one (due), or had one some days ago (due), at a day granularity:
                # many readers share a mark, as after real runs.
                "last_digest_at": None
                if rng.random() < 0.3
                else now - timedelta(days=rng.choice((2, 3, 4, 8, 9))),
            }
        )
        if len(chunk) == 5000:
            db.session.execute(insert(Subscriber), chunk)
            chunk = []
    if chunk:
        db.session.execute(insert(Subscriber), chunk)
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readers", type=int, default=50_000)
    parser.add_argument("--listings", type=int, default=200)
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1/test"),
        help="use PostgreSQL (a fresh database beside this URL)",
    )
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory(prefix="engage-digest-bench-")
    url = (
        _postgres_database(args.postgres)
        if args.postgres
        else f"sqlite:///{Path(folder.name) / 'bench.db'}"
    )
    app = create_app(
        {
            "ENGAGE_ENV": "testing",
            "ENGAGE_INSTANCE_PATH": folder.name,
            "DATABASE_URL": url,
            "CELERY_BROKER_URL": "filesystem://",
            "SECRET_KEY": "benchmark-secret-key-that-is-long-enough",
            "BASE_URL": "https://engage.example",
        }
    )
    try:
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            seed(args.readers, args.listings, random.Random(42))
            print(
                f"backend: {db.engine.dialect.name}; seeded {args.readers:,} readers and "
                f"{args.listings} listings in {time.perf_counter() - started:.1f}s"
            )
            statements = [0]

            @event.listens_for(db.engine, "before_cursor_execute")
            def count(*_args):
                statements[0] += 1

            total_time, total_rows, total_queries = 0.0, 0, 0
            for frequency in ("weekly", "daily"):
                statements[0] = 0
                started = time.perf_counter()
                result = digests.run(db.session, frequency, max_batches=None, dispatch=False)
                elapsed = time.perf_counter() - started
                total_time += elapsed
                total_rows += result.queued
                total_queries += statements[0]
                print(
                    f"{frequency:>6}: {result.due:,} due, {result.queued:,} digests queued, "
                    f"{result.empty:,} with nothing new, {result.renders} distinct renders, "
                    f"{result.batches} batches, {statements[0]} SQL statements, {elapsed:.2f}s"
                )
            rows = db.session.scalar(select(func.count()).select_from(Delivery))
            print(
                f" total: {total_rows:,} delivery rows ({rows:,} in the table) in "
                f"{total_time:.2f}s, {total_queries} SQL statements for {args.readers:,} readers"
            )
            db.session.remove()
            db.engine.dispose()
    finally:
        if args.postgres:
            _drop_postgres(url)
        folder.cleanup()


if __name__ == "__main__":
    main()
