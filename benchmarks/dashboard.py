"""The staff dashboard's figures on 1,000,000 subscribers, with and without the daily aggregate.

    .venv/bin/python benchmarks/dashboard.py [--subscribers N] [--runs K] [URL]

Needs PostgreSQL: creates a database beside URL (default BENCH_DATABASE_URL or
postgresql://postgres@127.0.0.1/test), migrates it, fills it set-based (INSERT … SELECT over
generate_series: a year of sign-ups, 85% confirmed, one in ten of those gone again, 20,000
bounce events), and drops it after. Prints the median of K runs of:

- the dashboard's figures read from `daily_stats` (what /admin/ and /api/v1/stats do);
- the same figures computed from the subscriber rows on each request (no aggregate);
- the beat task (`stats.rollup`: today and yesterday) and the backfill (`stats rebuild`);
- the plans PostgreSQL chose for the rollup's queries, to show which indexes they use.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import text  # noqa: E402

from engage import create_app  # noqa: E402
from engage.extensions import db  # noqa: E402
from engage.scratch import create_scratch_database, drop_scratch_database  # noqa: E402
from engage.stats import dashboard, rollup  # noqa: E402
from engage.types import utcnow  # noqa: E402

FILL = """
SELECT setseed(0.42);
INSERT INTO subscribers (email, email_hash, status, digest, timezone, interests, unsubscribe_id,
                         created_at, confirmed_at, unsubscribed_at, confirmations_sent_today,
                         hard_bounces)
SELECT 'reader' || g || '@example.org', md5(g::text) || md5('x' || g),
       CASE WHEN unsubscribed_at IS NOT NULL THEN 'unsubscribed'
            WHEN confirmed_at IS NOT NULL THEN 'confirmed' ELSE 'pending' END,
       'off', 'UTC', '{}', md5('u' || g), created_at, confirmed_at, unsubscribed_at, 0, 0
FROM (
  SELECT g, created_at, confirmed_at,
         CASE WHEN confirmed_at IS NOT NULL AND random() < 0.1
                   AND confirmed_at + left_after < :now
              THEN confirmed_at + left_after END AS unsubscribed_at
  FROM (
    SELECT g, created_at,
           CASE WHEN random() < 0.85 AND created_at + interval '3 hours' < :now
                THEN created_at + random() * interval '3 hours' END AS confirmed_at,
           random() * interval '60 days' AS left_after
    FROM (
      SELECT g, :now - power(random(), 0.7) * interval '365 days' AS created_at
      FROM generate_series(1, :n) AS g
    ) AS signed_up
  ) AS confirmed
) AS everyone;
INSERT INTO bounce_events (subscriber_id, kind, status, diagnostic, source, occurred_at,
                           created_at)
SELECT (random() * (:n - 1))::int + 1, (ARRAY['hard', 'soft', 'complaint'])[1 + (g % 3)],
       '', '', 'bench', :now - random() * interval '365 days', :now
FROM generate_series(1, 20000) AS g;
ANALYZE subscribers;
ANALYZE bounce_events;
"""


def median_ms(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
        db.session.rollback()
    return statistics.median(times)


def without_aggregate(now) -> None:
    """What the dashboard would run with no daily_stats: every day's figures from the rows."""
    today = now.astimezone(UTC).date()
    days = [today - timedelta(n) for n in range(dashboard.SERIES_DAYS, -1, -1)]
    rollup.compute_days(db.session, days, now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "url",
        nargs="?",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1/test"),
    )
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    url = create_scratch_database(args.url, "dashboard_bench")
    folder = tempfile.TemporaryDirectory(prefix="engage-dashboard-bench-")
    try:
        app = create_app(
            {
                "ENGAGE_ENV": "testing",
                "ENGAGE_INSTANCE_PATH": folder.name,
                "DATABASE_URL": url,
                "SECRET_KEY": "benchmark-secret-key-that-is-long-enough",
            }
        )
        with app.app_context():
            upgrade()
            now = utcnow()
            started = time.perf_counter()
            with db.engine.begin() as conn:
                for statement in FILL.split(";"):
                    if statement.strip():
                        conn.execute(text(statement), {"now": now, "n": args.subscribers})
            print(
                f"filled {args.subscribers:,} subscribers in {time.perf_counter() - started:.1f} s"
            )

            started = time.perf_counter()
            days = rollup.rebuild(db.session, now=now)
            db.session.commit()
            print(f"stats rebuild (backfill, {days} days): {time.perf_counter() - started:.1f} s")

            def rollup_once():
                rollup.rollup(db.session, now=now)

            def with_aggregate():
                dashboard.stats(db.session, now=now)

            rows = [
                ("dashboard figures, from daily_stats", median_ms(args.runs, with_aggregate)),
                (
                    "dashboard figures, from subscriber rows",
                    median_ms(args.runs, lambda: without_aggregate(now)),
                ),
                ("stats.rollup (today and yesterday)", median_ms(args.runs, rollup_once)),
            ]
            print(f"\n{'median of ' + str(args.runs) + ' runs':<45} {'ms':>9}")
            for name, ms in rows:
                print(f"{name:<45} {ms:>9.1f}")

            print("\nPlans of the rollup's queries (yesterday's window):")
            start = rollup.day_start(now.date() - timedelta(1))
            window = rollup._window_statement(start, start + timedelta(1))
            for label, statement in (
                ("changes in a window", window),
                ("bounces in a window", rollup._bounces_statement(start, start + timedelta(1))),
                ("subscribers by status", rollup._status_statement()),
            ):
                compiled = statement.compile(db.engine, compile_kwargs={"render_postcompile": True})
                with db.engine.connect() as conn:
                    plan = [
                        row[0]
                        for row in conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
                    ]
                used = sorted(
                    {line.split(" on ")[-1].split()[0] for line in plan if " on " in line}
                )
                print(f"  {label}: {', '.join(used)}")
                for line in plan:
                    print(f"      {line}")
            db.session.rollback()
            db.session.remove()
            db.engine.dispose()
    finally:
        drop_scratch_database(url)


if __name__ == "__main__":
    main()
