"""The subscriber desk's searches on PostgreSQL at a million subscribers: plans and times.

    .venv/bin/python benchmarks/subscriber_search.py [--rows N] [URL]

Creates a database beside URL (default BENCH_DATABASE_URL, else
postgresql://postgres@127.0.0.1/test), migrates it like production, fills `subscribers`,
`consents` and `subscriber_topics` set-based (generate_series, no Python loop), ANALYZEs, then
for each search the desk runs prints the plan PostgreSQL chose (EXPLAIN ANALYZE) and the median
time of `desk.subscriber_page` (one page of 50 and its COUNT) over 5 runs. Drops the database
afterwards. Nothing is asserted: read the plans (an Index Scan on ix_subscribers_email_pattern
for a prefix, uq_subscribers_email for an exact address).
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
from sqlalchemy import text  # noqa: E402
from sqlalchemy.types import TypeDecorator  # noqa: E402

from engage import create_app  # noqa: E402
from engage.extensions import db  # noqa: E402
from engage.scratch import create_scratch_database, drop_scratch_database  # noqa: E402
from engage.subscriptions import desk  # noqa: E402

FILL = """
INSERT INTO topics (slug, name, description, is_default)
VALUES ('newsletter', 'The newsletter', '', true), ('groups-news', 'Groups', '', false);

INSERT INTO subscribers (email, email_hash, status, digest, timezone, interests,
                         unsubscribe_id, created_at, confirmed_at, confirmations_sent_today,
                         hard_bounces)
SELECT substr(md5('a' || g::text), 1, 6) || '.' || g || '@example' || (g % 97) || '.org',
       md5(g::text) || md5('h' || g::text),
       (ARRAY['pending', 'confirmed', 'confirmed', 'unsubscribed'])[1 + g % 4],
       (ARRAY['off', 'weekly', 'daily'])[1 + g % 3],
       'UTC', '{}',
       md5('u' || g::text),
       timestamptz '2020-01-01' + g * interval '2 minutes',
       CASE WHEN g % 4 IN (1, 2) THEN timestamptz '2020-01-01' + g * interval '2 minutes' END,
       0, 0
FROM generate_series(1, :rows) AS g;

INSERT INTO consents (subscriber_id, source, text, version, consented_at)
SELECT id,
       CASE WHEN id % 10 = 0 THEN 'api:import' WHEN id % 10 = 1 THEN 'embed:partner.example/'
            ELSE 'form:/articles/' || (id % 50) END,
       'I agree.', 'v1', created_at
FROM subscribers;

INSERT INTO subscriber_topics (subscriber_id, topic_id)
SELECT s.id, t.id FROM subscribers s JOIN topics t
  ON t.slug = 'newsletter' OR (t.slug = 'groups-news' AND s.id % 5 = 0);
"""

# Addresses are `<6 hex digits>.<n>@example<n % 97>.org`: the hex start is random, so a prefix
# of k hex digits matches about 1,000,000 / 16**k addresses, spread over every id.
SEARCHES = [
    ("exact address", {"q": "{address}"}, {}),
    ("prefix of 5 hex digits, ~1 row", {"q": "{address:.5}"}, {}),
    ("prefix of 3 hex digits with *, ~240 rows", {"q": "{address:.3}*"}, {}),
    (
        "prefix of 2 hex digits + status confirmed, ~2,000 rows",
        {"q": "{address:.2}", "status": "confirmed"},
        {},
    ),
    ("no filter, first page", {}, {}),
    ("status confirmed, page at id 500,000 (keyset)", {"status": "confirmed"}, {"after": 500_000}),
    ("topic groups-news + digest weekly", {"topic": "groups-news", "digest": "weekly"}, {}),
    ("source import", {"source": "import"}, {}),
    ("signed up in one month", {"created_from": "2021-03-01", "created_to": "2021-03-31"}, {}),
]


def explain(flt: desk.SubscriberFilter, after: int | None) -> str:
    statement = desk.filtered(db.session, flt)
    if after is not None:
        statement = statement.where(desk.Subscriber.id < after)
    statement = statement.order_by(desk.Subscriber.id.desc()).limit(desk.PER_PAGE + 1)
    compiled = statement.compile(dialect=db.engine.dialect)
    params = {}
    for name, value in compiled.params.items():
        kind = compiled.binds[name].type
        # UTCDateTime turns aware datetimes into what the driver takes; the rest pass as is.
        params[name] = (
            kind.process_bind_param(value, db.engine.dialect)
            if isinstance(kind, TypeDecorator)
            else value
        )
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, COSTS OFF) {compiled}", params).all()
    return "\n".join("    " + row[0] for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "url",
        nargs="?",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1/test"),
    )
    args = parser.parse_args()
    url = create_scratch_database(args.url, "desk_bench")
    folder = tempfile.TemporaryDirectory(prefix="engage-desk-bench-")
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
            for statement in FILL.split(";\n"):
                if statement.strip():
                    db.session.execute(text(statement), {"rows": args.rows})
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
                collation = conn.exec_driver_sql(
                    "SELECT datcollate FROM pg_database WHERE datname = current_database()"
                ).scalar()
            print(
                f"PostgreSQL, collation {collation}: {args.rows:,} subscribers (with consents "
                f"and topics) filled set-based in {time.perf_counter() - started:.1f}s\n"
            )
            topics = ["newsletter", "groups-news"]
            address = db.session.scalar(text("SELECT email FROM subscribers WHERE id = 777777"))
            for label, values, paging in SEARCHES:
                values = {key: value.format(address=address) for key, value in values.items()}
                flt, errors = desk.parse_filter(values, topics)
                assert not errors, errors
                page_times, count_times = [], []
                for _ in range(6):
                    db.session.remove()
                    began = time.perf_counter()
                    page = desk.subscriber_page(db.session, flt, **paging)
                    page_times.append(time.perf_counter() - began)
                    began = time.perf_counter()
                    desk.count(db.session, flt)
                    count_times.append(time.perf_counter() - began)
                whole = statistics.median(page_times[1:]) * 1000
                counting = statistics.median(count_times[1:]) * 1000
                print(
                    f"{label}: {len(page.rows)} shown of {page.total:,}; the page "
                    f"{whole:.1f} ms, of which its COUNT {counting:.1f} ms"
                )
                print(explain(flt, paging.get("after")))
                print()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_scratch_database(url)


if __name__ == "__main__":
    main()
