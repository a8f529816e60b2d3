"""The editor's desk through the Flask test client on PostgreSQL at a million subscribers.

    .venv/bin/python benchmarks/desk.py [--subscribers N] [--runs K] [URL]

Creates a database beside URL (default BENCH_DATABASE_URL, else
postgresql://postgres@127.0.0.1/test), migrates it, fills it with `subscriber_search.py`'s
set-based FILL (subscribers, consents, topics), builds `daily_stats` with the backfill
(`dashboard.py` does the same), signs an editor in, and times three pages as the editor gets
them: the dashboard `/admin/`, a prefix search on `/admin/subscribers` (a POST, as the form
sends it) and a filtered page (status + topic + sign-up dates). Prints each page's median of K
requests after one warm-up, whether it is under 200 ms, and the indexes in the plan
(`EXPLAIN`) of each SELECT the page ran. Drops the database after. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, text  # noqa: E402

from benchmarks.subscriber_search import FILL  # noqa: E402
from engage import create_app  # noqa: E402
from engage.accounts.service import create_user  # noqa: E402
from engage.extensions import db  # noqa: E402
from engage.scratch import create_scratch_database, drop_scratch_database  # noqa: E402
from engage.stats import rollup  # noqa: E402
from engage.types import utcnow  # noqa: E402

PASSWORD = "a long enough password"
LIMIT_MS = 200


def pages(address: str) -> list[tuple[str, str, str, dict]]:
    """(label, method, path, form) of each timed request."""
    return [
        ("dashboard /admin/", "GET", "/admin/", {}),
        ("prefix search (4 characters)", "POST", "/admin/subscribers", {"q": address[:4]}),
        (
            "status + topic + date range",
            "GET",
            "/admin/subscribers?status=confirmed&topic=groups-news"
            "&created_from=2021-03-01&created_to=2021-03-31",
            {},
        ),
    ]


def indexes(plan: list[str]) -> list[str]:
    """The index names in a plan: `Index [Only] Scan using NAME` and `Bitmap Index Scan on NAME`."""
    found = set()
    for line in plan:
        if " using " in line and "Index" in line:
            found.add(line.split(" using ")[1].split()[0])
        elif "Bitmap Index Scan on " in line:
            found.add(line.split("Bitmap Index Scan on ")[1].split()[0])
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "url",
        nargs="?",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1/test"),
    )
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    url = create_scratch_database(args.url, "desk_journey_bench")
    folder = tempfile.TemporaryDirectory(prefix="engage-desk-journey-bench-")
    app = create_app(
        {
            "ENGAGE_ENV": "testing",
            "ENGAGE_INSTANCE_PATH": folder.name,
            "DATABASE_URL": url,
            "CELERY_BROKER_URL": "filesystem://",
            "SECRET_KEY": "benchmark-secret-key-that-is-long-enough",
            "BASE_URL": "https://engage.example",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    try:
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            for statement in FILL.split(";\n"):
                if statement.strip():
                    db.session.execute(text(statement), {"rows": args.subscribers})
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
            print(
                f"filled {args.subscribers:,} subscribers (with consents and topics) in "
                f"{time.perf_counter() - started:.1f} s"
            )
            started = time.perf_counter()
            days = rollup.rebuild(db.session, now=utcnow())
            create_user(db.session, "editor@example.org", PASSWORD, "editor", "Eda")
            db.session.commit()
            print(f"stats rebuild ({days} days): {time.perf_counter() - started:.1f} s")
            address = db.session.scalar(text("SELECT email FROM subscribers WHERE id = 777"))
            db.session.remove()

        client = app.test_client()
        reply = client.post("/login", data={"email": "editor@example.org", "password": PASSWORD})
        assert reply.status_code in (302, 303), reply.status_code

        results = []
        for label, method, path, form in pages(address):

            def get(method=method, path=path, form=form):
                reply = client.open(path, method=method, data=form or None)
                assert reply.status_code == 200, (path, reply.status_code)
                return reply

            get()  # warm-up
            times = []
            for _ in range(args.runs):
                began = time.perf_counter()
                get()
                times.append((time.perf_counter() - began) * 1000)
            statements: list[tuple[str, object]] = []

            def record(conn, cursor, statement, parameters, *_, statements=statements):
                statements.append((statement, parameters))

            with app.app_context():
                event.listen(db.engine, "before_cursor_execute", record)
                try:
                    get()
                finally:
                    event.remove(db.engine, "before_cursor_execute", record)
                plans = []
                with db.engine.connect() as conn:
                    for statement, parameters in statements:
                        if statement.lstrip().upper().startswith("SELECT"):
                            rows = conn.exec_driver_sql(
                                f"EXPLAIN (ANALYZE, COSTS OFF) {statement}", parameters
                            )
                            plan = [row[0] for row in rows]
                            ms = float(plan[-1].split(":")[1].split()[0])  # Execution Time
                            plans.append((ms, statement, plan))
            used = sorted({name for _ms, _s, plan in plans for name in indexes(plan)})
            results.append((label, statistics.median(times), len(plans), used, max(plans)))

        print(f"\n{'page (median of ' + str(args.runs) + ' after a warm-up)':<45} {'ms':>8}  under")
        for label, ms, *_ in results:
            print(f"{label:<45} {ms:>8.1f}  {LIMIT_MS} ms: {'yes' if ms < LIMIT_MS else 'no'}")
        print("\nIndexes in the plans of each page's SELECTs:")
        for label, _ms, count, used, _slowest in results:
            print(f"  {label} ({count} SELECTs): {', '.join(used) or 'none (sequential scans)'}")
        print("\nThe slowest SELECT of each page (EXPLAIN ANALYZE):")
        for label, _ms, _count, _used, (ms, statement, plan) in results:
            print(f"  {label}: {ms:.1f} ms: {' '.join(statement.split())[:300]}")
            for line in plan:
                print(f"      {line}")
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_scratch_database(url)


if __name__ == "__main__":
    main()
